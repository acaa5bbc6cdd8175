// A compact, sortable table over an array of rows: the list view of most pages.

import { Table, Tbody, Td, Th, Thead, Tr, type ThProps } from '@patternfly/react-table';
import { useMemo, useState, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  title: string;
  render?: (row: T) => ReactNode;
  /** value used to sort (default: row[key]); omit sortable to disable */
  sortValue?: (row: T) => string | number;
  sortable?: boolean;
  width?: 10 | 15 | 20 | 25 | 30 | 35 | 40 | 45 | 50 | 60 | 70 | 80 | 90 | 100;
}

interface DataTableProps<T> {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  selected?: string | null;
  onSelect?: (row: T) => void;
  onActivate?: (row: T) => void;
  emptyText?: string;
  label: string;
}

export function DataTable<T>(p: DataTableProps<T>) {
  const [sortIndex, setSortIndex] = useState<number | null>(null);
  const [dir, setDir] = useState<'asc' | 'desc'>('asc');
  const rows = useMemo(() => {
    if (sortIndex === null) return p.rows;
    const col = p.columns[sortIndex];
    const val = (r: T) => (col.sortValue ? col.sortValue(r) : ((r as Record<string, unknown>)[col.key] as string | number) ?? '');
    const sorted = [...p.rows].sort((a, b) => {
      const x = val(a);
      const y = val(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return dir === 'asc' ? sorted : sorted.reverse();
  }, [p.rows, p.columns, sortIndex, dir]);

  const sortFor = (i: number): ThProps['sort'] | undefined =>
    p.columns[i].sortable === false
      ? undefined
      : {
          sortBy: { index: sortIndex ?? undefined, direction: dir },
          onSort: (_e, index, direction) => {
            setSortIndex(index);
            setDir(direction);
          },
          columnIndex: i,
        };

  return (
    <Table aria-label={p.label} variant="compact" isStickyHeader>
      <Thead>
        <Tr>
          {p.columns.map((c, i) => (
            <Th key={c.key} sort={sortFor(i)} width={c.width}>
              {c.title}
            </Th>
          ))}
        </Tr>
      </Thead>
      <Tbody>
        {rows.length === 0 && (
          <Tr>
            <Td colSpan={p.columns.length}>{p.emptyText ?? 'No entries'}</Td>
          </Tr>
        )}
        {rows.map((r) => {
          const k = p.rowKey(r);
          return (
            <Tr
              key={k}
              isClickable={!!p.onSelect}
              isRowSelected={p.selected === k}
              onRowClick={p.onSelect ? () => p.onSelect?.(r) : undefined}
              onDoubleClick={p.onActivate ? () => p.onActivate?.(r) : undefined}
              data-rowkey={k}
            >
              {p.columns.map((c) => (
                <Td key={c.key} dataLabel={c.title}>
                  {c.render ? c.render(r) : String((r as Record<string, unknown>)[c.key] ?? '')}
                </Td>
              ))}
            </Tr>
          );
        })}
      </Tbody>
    </Table>
  );
}
