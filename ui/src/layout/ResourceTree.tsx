// The resource tree on the left: a virtualized list of the flattened tree rows
// (@tanstack/react-virtual), so only the rows in view exist in the DOM.

import { FormSelect, FormSelectOption } from '@patternfly/react-core';
import { AngleDownIcon, AngleRightIcon } from '@patternfly/react-icons';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useNavigation } from '@/hooks/navigation';
import { useResources } from '@/hooks/resources';
import { KindIcon, StatusDot } from './icons';
import { buildTree, flatten, type TreeView } from './tree';

export const ROW_HEIGHT = 26;
const VIEW_KEY = 'pyxis.treeView';

export function ResourceTree() {
  const { resources } = useResources();
  const { location, navigate } = useNavigation();
  const [view, setView] = useState<TreeView>(() => (localStorage.getItem(VIEW_KEY) as TreeView) || 'server');
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const scrollRef = useRef<HTMLDivElement>(null);

  // polls bring new objects every few seconds (usage figures change); rebuild the tree
  // only when something the tree shows changed, so scrolling is not disturbed
  const shape = useMemo(
    () => resources.map((r) => `${r.id}|${r.status}|${r.name}|${r.template}|${r.tags}|${r.pool}|${r.node}`).join('\n'),
    [resources],
  );
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const tree = useMemo(() => buildTree(resources, view), [shape, view]);
  const rows = useMemo(() => flatten(tree, collapsed), [tree, collapsed]);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 12,
  });

  const selectedIndex = rows.findIndex((r) => r.target === location.id);

  const toggle = useCallback((key: string) => {
    setCollapsed((prev) => {
      const next = new Set(prev);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }, []);

  const changeView = (v: TreeView) => {
    setView(v);
    localStorage.setItem(VIEW_KEY, v);
  };

  // keep the selection in view when it changes from elsewhere (search, links)
  useEffect(() => {
    if (selectedIndex >= 0) virtualizer.scrollToIndex(selectedIndex, { align: 'auto' });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [location.id]);

  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    const i = selectedIndex;
    const go = (j: number) => {
      const r = rows[Math.max(0, Math.min(rows.length - 1, j))];
      if (r?.target) navigate(r.target);
    };
    if (e.key === 'ArrowDown') go(i + 1);
    else if (e.key === 'ArrowUp') go(i - 1);
    else if (e.key === 'ArrowLeft' && i >= 0 && rows[i].hasChildren && rows[i].expanded) toggle(rows[i].key);
    else if (e.key === 'ArrowRight' && i >= 0 && rows[i].hasChildren && !rows[i].expanded) toggle(rows[i].key);
    else return;
    e.preventDefault();
  };

  return (
    <div className="pyxis-tree">
      <div className="pyxis-tree-view">
        <FormSelect
          aria-label="Tree view"
          value={view}
          onChange={(_e, v) => changeView(v as TreeView)}
          data-testid="tree-view-select"
        >
          <FormSelectOption value="server" label="Server View" />
          <FormSelectOption value="folder" label="Folder View" />
          <FormSelectOption value="pool" label="Pool View" />
        </FormSelect>
      </div>
      <div
        ref={scrollRef}
        className="pyxis-tree-scroll"
        data-testid="resource-tree"
        role="tree"
        aria-label="Resources"
        tabIndex={0}
        onKeyDown={onKey}
      >
        <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
          {virtualizer.getVirtualItems().map((vi) => {
            const r = rows[vi.index];
            const selected = r.target !== null && r.target === location.id;
            return (
              <div
                key={r.key}
                role="treeitem"
                aria-level={r.depth + 1}
                aria-selected={selected}
                aria-expanded={r.hasChildren ? r.expanded : undefined}
                className={`pyxis-tree-row${selected ? ' is-selected' : ''}`}
                data-target={r.target ?? undefined}
                style={{ transform: `translateY(${vi.start}px)`, height: ROW_HEIGHT, paddingLeft: 4 + r.depth * 16 }}
                onClick={() => (r.target ? navigate(r.target) : toggle(r.key))}
              >
                <span
                  className="pyxis-tree-toggle"
                  onClick={(e) => {
                    e.stopPropagation();
                    if (r.hasChildren) toggle(r.key);
                  }}
                >
                  {r.hasChildren ? r.expanded ? <AngleDownIcon /> : <AngleRightIcon /> : null}
                </span>
                <span className={`pyxis-tree-icon pyxis-status-${r.status ?? 'none'}`}>
                  <KindIcon kind={r.kind} template={r.template} />
                </span>
                <span className="pyxis-tree-label">{r.label}</span>
                {(r.kind === 'qemu' || r.kind === 'lxc' || r.kind === 'node') && <StatusDot status={r.status} />}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
