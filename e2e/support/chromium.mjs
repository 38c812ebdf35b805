// Debian's Chromium (apt-get install chromium), never a Playwright download, with the flags this closed network
// needs: without the background-networking ones Chromium keeps dialling Google's hosts and gets refused. Shared by
// the Playwright config and the IndexedDB benchmark.
export const chromiumLaunchOptions = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
};
