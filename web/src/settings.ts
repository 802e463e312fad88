import type { RelaycastClient } from '@relaycast/client';
import { ui } from './ui.js';

const KEY_STORAGE = 'relaycast.apiKey';

export function storedKey(): string {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return ''; // storage disabled: the key lives in the field only
  }
}

export function storeKey(key: string): void {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    /* storage disabled */
  }
}

/** The picker lists `GET /v1/models` when there is a key to ask with (it answers 401 without one); else "default". */
export async function loadModels(client: RelaycastClient): Promise<void> {
  let models: Awaited<ReturnType<RelaycastClient['models']>>;
  try {
    models = client.apiKey ? await client.models() : undefined;
  } catch {
    models = undefined;
  }
  const previous = ui.model.value;
  const options = models?.length ? models.map((m) => option(m.id, m.description ? `${m.id} (${m.description})` : m.id)) : [option('', 'default')];
  ui.model.replaceChildren(...options);
  if (options.some((o) => o.value === previous)) ui.model.value = previous;
}

function option(value: string, label: string): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}
