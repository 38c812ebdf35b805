import type { StoredMessage } from 'modular-message-bus-library';
import { describe, expect, it } from 'vitest';
import { buildSendRequest, groupRecipient, parseMetadata, parseRecipients, replyDefaults } from './parse.js';

const fields = {
  sender: 'critic',
  recipients: '',
  content: 'looks good',
  idempotencyKey: '',
  inReplyTo: null,
  metadata: '',
  policy: 'addressed',
};

describe('composer fields', () => {
  it('keeps "#" in an addressed room (a group) and drops it elsewhere', () => {
    expect(parseRecipients('coder, #research  #leads', 'addressed')).toEqual(['coder', '#research', '#leads']);
    expect(parseRecipients('#research, build', 'subgroup')).toEqual(['research', 'build']);
    expect(groupRecipient('research', 'addressed')).toBe('#research');
    expect(groupRecipient('research', 'subgroup')).toBe('research');
  });

  it('sends inReplyTo and metadata only when given', () => {
    expect(buildSendRequest(fields)).toEqual({ sender: 'critic', content: 'looks good' });
    expect(buildSendRequest({ ...fields, recipients: 'coder, #research', inReplyTo: 12, metadata: '{"kind": "review"}' })).toEqual({
      sender: 'critic',
      content: 'looks good',
      recipients: ['coder', '#research'],
      inReplyTo: 12,
      metadata: { kind: 'review' },
    });
  });

  it('refuses metadata that is not JSON before sending; the worker judges the shape', () => {
    expect(() => parseMetadata('kind: review')).toThrow(/metadata must be JSON/);
    expect(parseMetadata('  ')).toBeUndefined();
    expect(parseMetadata('[1]')).toEqual([1]);
  });

  it('pre-fills a reply: a member the message reached answers its sender, or the same groups, or the room', () => {
    const question: StoredMessage = {
      id: 7,
      room: 'crew',
      timestamp: 7,
      sender: 'planner',
      content: 'which sources?',
      recipients: ['r1', 'r2'],
      routing: { policy: 'subgroup', requested: ['research'] },
      thread: 7,
    };
    const online = new Map([
      ['planner', true],
      ['r1', false],
      ['r2', true],
    ]);
    expect(replyDefaults(question, online, 'addressed')).toEqual({ sender: 'r2', recipients: 'planner' });
    expect(replyDefaults(question, online, 'subgroup')).toEqual({ sender: 'r2', recipients: 'research' });
    expect(replyDefaults(question, online, 'broadcast')).toEqual({ sender: 'r2', recipients: '' });
    expect(replyDefaults({ ...question, recipients: [] }, online, 'individual')).toEqual({ sender: null, recipients: 'planner' });
  });
});
