// Formatting of sizes, durations, times and percentages (one place for the whole UI).

export function formatBytes(n: number | undefined | null, digits = 1): string {
  if (n === undefined || n === null || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(digits)} ${units[i]}`;
}

export function formatDuration(seconds: number | undefined | null): string {
  if (!seconds || seconds < 0) return '-';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  const hms = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return d ? `${d} day${d > 1 ? 's' : ''} ${hms}` : hms;
}

export function formatTime(unix: number | undefined | null): string {
  if (!unix) return '-';
  const d = new Date(unix * 1000);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function formatPercent(fraction: number | undefined | null, digits = 1): string {
  if (fraction === undefined || fraction === null || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function ratio(used: number | undefined, total: number | undefined): number {
  if (!used || !total) return 0;
  return used / total;
}
