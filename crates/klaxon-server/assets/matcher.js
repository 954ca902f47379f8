// Alertmanager matchers as silences use them: {name, value, isRegex, isEqual}; a regex is
// anchored at both ends, a missing label is the empty string, and every matcher must hold.

/** Compiles matchers; throws an Error naming the matcher whose regex is invalid. */
export function compile(matchers) {
  return matchers.map((m, i) => {
    let re = null;
    if (m.isRegex) {
      try {
        re = new RegExp(`^(?:${m.value})$`);
      } catch (e) {
        throw new Error(`matcher ${i + 1} (${m.name}): ${e.message}`);
      }
    }
    return { name: m.name, value: m.value, re, isEqual: m.isEqual !== false };
  });
}

/** Whether every compiled matcher holds for `labels`. */
export function matches(compiled, labels) {
  for (const m of compiled) {
    const v = labels?.[m.name] ?? "";
    const hit = m.re ? m.re.test(v) : v === m.value;
    if (hit !== m.isEqual) return false;
  }
  return true;
}

/** The operator of a matcher as Alertmanager writes it. */
export function op(m) {
  return m.isRegex ? (m.isEqual === false ? "!~" : "=~") : m.isEqual === false ? "!=" : "=";
}

/** `name="value"`, `name=~"re"`, `name!="v"` or `name!~"re"`. */
export function show(m) {
  return `${m.name}${op(m)}"${m.value}"`;
}
