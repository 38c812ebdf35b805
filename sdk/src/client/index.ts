// Placeholder until the remote client lands (see the open issues).
import { unavailableBackend } from '../backends/unavailable.js';

export const RemoteMessageBus = unavailableBackend('RemoteMessageBus', 'an implementation that has not landed yet');
