// Placeholder until the backend lands (see the open issues); it throws a clear error when constructed.
import { unavailableBackend } from './unavailable.js';

export const DurableObjectStorageBackend = unavailableBackend('DurableObjectStorageBackend', 'an implementation that has not landed yet');
