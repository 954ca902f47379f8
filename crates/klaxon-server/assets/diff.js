// Differences between two rule-set versions, computed in the browser: a line diff of the
// pretty-printed documents (longest common subsequence) and a rule-level summary by rule id.

/** Line diff: [{op: " " | "+" | "-", text}]. Documents past `limit` lines each are refused. */
export function lineDiff(a, b, limit = 4000) {
  const x = a.split("\n");
  const y = b.split("\n");
  if (x.length > limit || y.length > limit) return null;
  // Common prefix and suffix first: versions usually differ in a few places.
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let q = 0;
  while (q < x.length - p && q < y.length - p && x[x.length - 1 - q] === y[y.length - 1 - q]) q++;
  const xs = x.slice(p, x.length - q);
  const ys = y.slice(p, y.length - q);
  const n = xs.length, m = ys.length;
  const w = m + 1;
  const L = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = xs[i] === ys[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  const out = x.slice(0, p).map((text) => ({ op: " ", text }));
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (xs[i] === ys[j]) {
      out.push({ op: " ", text: xs[i] });
      i++;
      j++;
    } else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) {
      out.push({ op: "-", text: xs[i++] });
    } else {
      out.push({ op: "+", text: ys[j++] });
    }
  }
  while (i < n) out.push({ op: "-", text: xs[i++] });
  while (j < m) out.push({ op: "+", text: ys[j++] });
  for (const text of x.slice(x.length - q)) out.push({ op: " ", text });
  return out;
}

/** Keeps `context` unchanged lines around each change; runs beyond become {op: "…", count}. */
export function withContext(ops, context = 3) {
  const keep = new Uint8Array(ops.length);
  ops.forEach((o, i) => {
    if (o.op !== " ") for (let k = Math.max(0, i - context); k <= Math.min(ops.length - 1, i + context); k++) keep[k] = 1;
  });
  const out = [];
  let skipped = 0;
  ops.forEach((o, i) => {
    if (keep[i]) {
      if (skipped) out.push({ op: "…", count: skipped });
      skipped = 0;
      out.push(o);
    } else skipped++;
  });
  if (skipped) out.push({ op: "…", count: skipped });
  return out;
}

/** Rules added, removed and changed between two rule-set documents, by rule id. */
export function ruleDiff(a, b) {
  const index = (doc) => {
    const m = new Map();
    const list = Array.isArray(doc?.rules) ? doc.rules : [];
    list.forEach((r, i) => m.set(String(r?.id ?? `#${i}`), r));
    return m;
  };
  const x = index(a), y = index(b);
  const added = [...y.keys()].filter((k) => !x.has(k));
  const removed = [...x.keys()].filter((k) => !y.has(k));
  const changed = [...x.keys()].filter((k) => y.has(k) && stable(x.get(k)) !== stable(y.get(k)));
  return { added, removed, changed };
}

/** JSON with sorted keys, so key order is not a difference. */
export function stable(v) {
  return JSON.stringify(v, (_, val) =>
    val && typeof val === "object" && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0))) : val,
  );
}

/** Pretty JSON with sorted keys, the form both sides of a line diff take. */
export function pretty(v) {
  return JSON.stringify(JSON.parse(stable(v)), null, 2);
}
