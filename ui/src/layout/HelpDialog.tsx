// The keyboard shortcut help ('?').

import { Modal, ModalVariant } from '@patternfly/react-core';
import { SHORTCUTS } from './shortcuts';

export function HelpDialog({ onClose }: { onClose: () => void }) {
  return (
    <Modal variant={ModalVariant.small} title="Keyboard shortcuts" isOpen onClose={onClose} data-testid="help-dialog">
      <table className="pyxis-kv">
        <tbody>
          {SHORTCUTS.map((s) => (
            <tr key={s.keys}>
              <th>
                <kbd>{s.keys}</kbd>
              </th>
              <td>{s.description}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
