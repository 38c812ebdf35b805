import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files made for one test run: a CA, a server certificate it signed, and an unrelated second CA. */
export interface TestCertificates {
  dir: string;
  /** Paths, for redis-server. */
  files: { ca: string; cert: string; key: string };
  /** Contents, for the client. */
  ca: string;
  /** A CA that did not sign the server's certificate. */
  wrongCa: string;
  dispose(): void;
}

/** Generates the certificates with `openssl`: the server certificate names `localhost` and `127.0.0.1`. */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'mmb-tls-'));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const selfSigned = (name: string, subject: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      subject,
      '-keyout',
      at(`${name}.key`),
      '-out',
      at(`${name}.crt`),
    );
  selfSigned('ca', '/CN=mmb test CA');
  selfSigned('wrong-ca', '/CN=some other CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', at('server.key'), '-out', at('server.csr'));
  writeFileSync(at('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.crt'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-days',
    '1',
    '-extfile',
    at('server.ext'),
    '-out',
    at('server.crt'),
  );
  return {
    dir,
    files: { ca: at('ca.crt'), cert: at('server.crt'), key: at('server.key') },
    ca: readFileSync(at('ca.crt'), 'utf8'),
    wrongCa: readFileSync(at('wrong-ca.crt'), 'utf8'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
