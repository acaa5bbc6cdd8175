// "Create VM" / "Create CT" in the top bar (shown with VM.Allocate somewhere). The
// wizards load lazily; the node preselected is the one of the current selection.

import { Button } from '@patternfly/react-core';
import { lazy, Suspense, useState } from 'react';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { useSession } from '@/hooks/session';

const CreateVm = lazy(() => import('../qemu/CreateVm'));
const CreateCt = lazy(() => import('../lxc/CreateCt'));

export function CreateGuestButtons() {
  const { canAny } = useSession();
  const { location } = useNavigation();
  const { byId } = useResources();
  const [open, setOpen] = useState<'vm' | 'ct' | null>(null);
  if (!canAny('VM.Allocate')) return null;
  const sel = byId.get(location.id);
  const node = sel?.node;
  return (
    <>
      <Button size="sm" variant="primary" onClick={() => setOpen('vm')} data-testid="create-vm-button">
        Create VM
      </Button>
      <Button size="sm" variant="primary" onClick={() => setOpen('ct')} data-testid="create-ct-button" style={{ marginLeft: 6 }}>
        Create CT
      </Button>
      <Suspense fallback={null}>
        {open === 'vm' && <CreateVm node={node} onClose={() => setOpen(null)} />}
        {open === 'ct' && <CreateCt node={node} onClose={() => setOpen(null)} />}
      </Suspense>
    </>
  );
}
