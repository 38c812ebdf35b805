import { describe, expect, it } from 'vitest';
import { ApiClient } from './client.js';
import { apiOriginOf, type KeyValueStorage, TokenStore } from './token-store.js';

/** The Storage interface over a Map, as localStorage behaves within one page. */
function memoryStorage(entries: Record<string, string> = {}): KeyValueStorage & { keys(): string[] } {
  const map = new Map(Object.entries(entries));
  return {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
    keys: () => [...map.keys()],
  };
}

describe('apiOriginOf', () => {
  it('gives the origin of http(s) URLs, and null for anything else', () => {
    expect(apiOriginOf('https://worker.example/some/path?x=1')).toBe('https://worker.example');
    expect(apiOriginOf('http://127.0.0.1:8787/')).toBe('http://127.0.0.1:8787');
    expect(apiOriginOf('https://worker.example@evil.example/')).toBe('https://evil.example');
    expect(apiOriginOf('/relative', 'https://page.example/devtools/')).toBe('https://page.example');
    for (const bad of ['javascript:alert(1)', 'ws://worker.example', 'not a url', 'data:text/plain,x']) expect(apiOriginOf(bad)).toBeNull();
  });
});

describe('TokenStore', () => {
  it('keeps one token per origin and never answers one origin with another’s token', () => {
    const storage = memoryStorage();
    const store = new TokenStore(storage);
    store.set('https://worker.example', 'mine');
    expect(store.get('https://worker.example')).toEqual({ origin: 'https://worker.example', token: 'mine' });
    expect(store.get('https://evil.example')).toBeNull();
    store.set('https://evil.example', 'theirs');
    expect(store.get('https://worker.example')?.token).toBe('mine');
    store.set('https://evil.example', null);
    expect(store.get('https://evil.example')).toBeNull();
    expect(store.get('https://worker.example')?.token).toBe('mine');
  });

  it('drops the single token older dashboards kept for whatever origin', () => {
    const storage = memoryStorage({ 'mmb-devtools:token': 'old' });
    const store = new TokenStore(storage);
    expect(storage.keys()).toEqual([]);
    expect(store.get('https://worker.example')).toBeNull();
  });
});

describe('ApiClient', () => {
  it('refuses a token entered for another origin', () => {
    expect(() => new ApiClient('https://evil.example', { origin: 'https://worker.example', token: 't' })).toThrow(/worker\.example/);
    expect(() => new ApiClient('https://worker.example.evil.example/', { origin: 'https://worker.example', token: 't' })).toThrow();
    const client = new ApiClient('https://worker.example/', { origin: 'https://worker.example', token: 't' });
    expect(new URL(client.eventsUrl('lobby', 0)).host).toBe('worker.example');
  });
});
