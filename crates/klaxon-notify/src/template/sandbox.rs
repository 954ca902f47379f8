//! Size limits inside a render. minijinja bounds the work of a render (fuel) but not the size
//! of what it builds: `"x" * 100000000` is one instruction, and `s ~ s` doubles a string per
//! instruction. So every compiled template is rewritten before it runs:
//!
//! - literal text goes out through the formatter like every `{{ }}` (an `EmitRaw` becomes a
//!   constant and an `Emit`), and the formatter counts every byte a render writes, captured
//!   ones (`{% set x %}…{% endset %}`, `{% filter %}`) included, failing past the limit before
//!   writing;
//! - `+`, `*` and `~` become calls of checked functions that refuse a string or list larger than
//!   the limit before building it, then let minijinja do the operation;
//! - the built-in filters that build strings or lists are wrapped: those that take a size
//!   (`indent`, `format`, `replace`, `join`, `batch`, `slice`, `tojson`) are checked
//!   before they run, every one's result after.
//!
//! The limit lives in a thread-local set for the length of one render (rendering is
//! synchronous); outside a render the default applies.

use std::cell::Cell;
use std::sync::LazyLock;

use minijinja::machinery::{Instruction, Instructions};
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Expression, State, Value};

/// The default limit of one render's output, and of any value it builds: 1 MiB.
pub const DEFAULT_MAX_BYTES: usize = 1 << 20;

/// Names the checked operators are called by in rewritten templates.
const ADD: &str = "__klaxon_add";
const MUL: &str = "__klaxon_mul";
const CONCAT: &str = "__klaxon_concat";

/// Items a `batch` or `slice` may make, and elements a list may hold (as `range`).
const MAX_ITEMS: usize = 100_000;

/// What a scalar, or one slot of a list, counts for in a size estimate.
const SLOT: usize = 16;

thread_local! {
    /// (bytes written so far, the limit) of the render running on this thread.
    static BUDGET: Cell<(usize, usize)> = const { Cell::new((0, DEFAULT_MAX_BYTES)) };
}

/// Sets the limit for one render; the previous state comes back when it drops.
pub(super) struct Render {
    before: (usize, usize),
}

impl Render {
    pub(super) fn start(max_bytes: usize) -> Render {
        Render {
            before: BUDGET.with(|b| b.replace((0, max_bytes))),
        }
    }
}

impl Drop for Render {
    fn drop(&mut self) {
        BUDGET.with(|b| b.set(self.before));
    }
}

fn limit() -> usize {
    BUDGET.with(|b| b.get().1)
}

/// The error of an output over the limit; its text names the setting.
pub(super) fn output_too_large(max: usize) -> String {
    format!("rendered output exceeds the limit of {max} bytes ([notify] template_max_bytes)")
}

fn too_large(what: &str) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "{what} would exceed the limit of {} bytes ([notify] template_max_bytes)",
            limit()
        ),
    )
}

/// Counts `n` bytes about to be written; fails past the limit.
fn charge(n: usize) -> Result<(), Error> {
    BUDGET.with(|b| {
        let (used, max) = b.get();
        let used = used.saturating_add(n);
        b.set((used, max));
        if used > max {
            Err(Error::new(ErrorKind::WriteFailure, output_too_large(max)))
        } else {
            Ok(())
        }
    })
}

/// An estimate of the bytes `v` takes as text, from below for strings (exact) and from above
/// for scalars and containers; stops counting once past `cap`.
pub(super) fn size(v: &Value, cap: usize) -> usize {
    match v.kind() {
        ValueKind::String => v.as_str().map_or(0, str::len),
        ValueKind::Bytes => v.as_bytes().map_or(0, <[u8]>::len),
        ValueKind::Seq | ValueKind::Iterable | ValueKind::Map => {
            let map = v.kind() == ValueKind::Map;
            let mut total = 2;
            let Ok(items) = v.try_iter() else {
                return SLOT;
            };
            for item in items {
                total += SLOT + size(&item, cap.saturating_sub(total));
                if map {
                    let value = v.get_item(&item).unwrap_or_default();
                    total += size(&value, cap.saturating_sub(total));
                }
                if total > cap {
                    break;
                }
            }
            total
        }
        _ => SLOT,
    }
}

fn within(what: &str, n: usize) -> Result<(), Error> {
    if n > limit() {
        Err(too_large(what))
    } else {
        Ok(())
    }
}

/// The formatter's gate: `v` may be written.
pub(super) fn admit(v: &Value) -> Result<(), Error> {
    charge(size(v, limit()))
}

/// minijinja's own operators, run once the sizes are known to be safe.
static OPS: LazyLock<Environment<'static>> = LazyLock::new(Environment::new);
static ADD_EXPR: LazyLock<Expression<'static, 'static>> =
    LazyLock::new(|| OPS.compile_expression("a + b").expect("a valid expression"));
static MUL_EXPR: LazyLock<Expression<'static, 'static>> =
    LazyLock::new(|| OPS.compile_expression("a * b").expect("a valid expression"));

fn run(e: &Expression<'static, 'static>, a: Value, b: Value) -> Result<Value, Error> {
    e.eval(minijinja::context! { a => a, b => b })
}

fn is_text_or_list(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::String | ValueKind::Seq | ValueKind::Iterable
    )
}

fn checked_add(a: Value, b: Value) -> Result<Value, Error> {
    if is_text_or_list(&a) || is_text_or_list(&b) {
        let cap = limit();
        within("`+`", size(&a, cap).saturating_add(size(&b, cap)))?;
    }
    run(&ADD_EXPR, a, b)
}

fn checked_mul(a: Value, b: Value) -> Result<Value, Error> {
    let (thing, times) = if is_text_or_list(&a) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    if is_text_or_list(thing) {
        let n = times.as_usize().unwrap_or(0);
        let cap = limit();
        within("`*`", size(thing, cap).saturating_mul(n))?;
        if thing.kind() != ValueKind::String {
            let items = thing.len().unwrap_or(1).saturating_mul(n);
            if items > MAX_ITEMS {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("a repeated list would hold more than {MAX_ITEMS} items"),
                ));
            }
        }
    }
    run(&MUL_EXPR, a, b)
}

fn checked_concat(a: Value, b: Value) -> Result<Value, Error> {
    let cap = limit();
    within("`~`", size(&a, cap).saturating_add(size(&b, cap)))?;
    Ok(Value::from(format!("{a}{b}")))
}

/// Registers the checked operators and wraps the filters that build strings or lists.
pub(super) fn install(env: &mut Environment<'static>) {
    env.add_function(ADD, checked_add);
    env.add_function(MUL, checked_mul);
    env.add_function(CONCAT, checked_concat);
    use minijinja::filters as f;
    let wrapped: [(&str, Value); 32] = [
        ("replace", Value::from_function(f::replace)),
        ("join", Value::from_function(f::join)),
        ("indent", Value::from_function(f::indent)),
        ("selectattr", Value::from_function(f::selectattr)),
        ("rejectattr", Value::from_function(f::rejectattr)),
        ("format", Value::from_function(f::format)),
        ("tojson", Value::from_function(f::tojson)),
        ("pprint", Value::from_function(f::pprint)),
        ("batch", Value::from_function(f::batch)),
        ("slice", Value::from_function(f::slice)),
        ("list", Value::from_function(f::list)),
        ("string", Value::from_function(f::string)),
        ("escape", Value::from_function(f::escape)),
        ("e", Value::from_function(f::escape)),
        ("title", Value::from_function(f::title)),
        ("upper", Value::from_function(f::upper)),
        ("lower", Value::from_function(f::lower)),
        ("capitalize", Value::from_function(f::capitalize)),
        ("lines", Value::from_function(f::lines)),
        ("split", Value::from_function(f::split)),
        ("reverse", Value::from_function(f::reverse)),
        ("sort", Value::from_function(f::sort)),
        ("dictsort", Value::from_function(f::dictsort)),
        ("items", Value::from_function(f::items)),
        ("map", Value::from_function(f::map)),
        ("select", Value::from_function(f::select)),
        ("reject", Value::from_function(f::reject)),
        ("unique", Value::from_function(f::unique)),
        ("chain", Value::from_function(f::chain)),
        ("zip", Value::from_function(f::zip)),
        ("groupby", Value::from_function(f::groupby)),
        ("trim", Value::from_function(f::trim)),
    ];
    for (name, inner) in wrapped {
        env.add_filter(
            name,
            move |state: &State, args: Rest<Value>| -> Result<Value, Error> {
                before(name, &args)?;
                let out = inner.call(state, &args)?;
                within(&format!("the result of `{name}`"), size(&out, limit()))?;
                Ok(out)
            },
        );
    }
}

/// The positional integer argument `i` (after the filtered value), if any.
fn int_arg(args: &[Value], i: usize) -> usize {
    args.get(i)
        .filter(|v| v.kind() == ValueKind::Number)
        .and_then(Value::as_usize)
        .unwrap_or(0)
}

/// Checks a filter's arguments before it runs, where they set the size of what it builds.
fn before(name: &str, args: &[Value]) -> Result<(), Error> {
    let cap = limit();
    let input = args.first().map_or(0, |v| size(v, cap));
    let what = format!("the result of `{name}`");
    match name {
        "indent" => {
            let width = match args.get(1) {
                Some(v) if v.kind() == ValueKind::String => v.as_str().map_or(0, str::len),
                _ => int_arg(args, 1),
            };
            let text = args.first().and_then(Value::as_str).unwrap_or("");
            let lines = text.bytes().filter(|b| *b == b'\n').count() + 1;
            within(&what, input.saturating_add(lines.saturating_mul(width)))
        }
        "replace" => {
            let text = args.first().and_then(Value::as_str).unwrap_or("");
            let old = args.get(1).and_then(Value::as_str).unwrap_or("");
            let new = args.get(2).map_or(0, |v| size(v, cap));
            let hits = if old.is_empty() {
                text.chars().count() + 1
            } else {
                text.matches(old).count()
            };
            within(&what, input.saturating_add(hits.saturating_mul(new)))
        }
        "join" => {
            let sep = args.get(1).map_or(0, |v| size(v, cap));
            let items = args.first().and_then(Value::len).unwrap_or(0);
            within(&what, input.saturating_add(items.saturating_mul(sep)))
        }
        "format" => {
            // Widths and precisions in the format string, and `*` ones taken from arguments.
            let fmt = args.first().and_then(Value::as_str).unwrap_or("");
            let mut widths = 0usize;
            for spec in fmt.split('%').skip(1) {
                let digits: String = spec
                    .chars()
                    .take_while(|c| "-+ #0123456789.*".contains(*c))
                    .collect();
                for n in digits.split(|c: char| !c.is_ascii_digit()) {
                    widths = widths.saturating_add(n.parse::<usize>().unwrap_or(0));
                }
                if digits.contains('*') {
                    widths = widths.saturating_add(
                        args[1..]
                            .iter()
                            .filter_map(Value::as_usize)
                            .fold(0usize, usize::saturating_add),
                    );
                }
            }
            let rest = args[1..]
                .iter()
                .map(|v| size(v, cap))
                .fold(0usize, usize::saturating_add);
            within(&what, input.saturating_add(rest).saturating_add(widths))
        }
        "batch" | "slice" if int_arg(args, 1) > MAX_ITEMS => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`{name}` makes at most {MAX_ITEMS} groups"),
        )),
        "tojson" if int_arg(args, 1) > 16 => Err(Error::new(
            ErrorKind::InvalidOperation,
            "`tojson` indents by at most 16",
        )),
        // Escaping at most sextuples a text; JSON likewise.
        "tojson" | "pprint" | "escape" | "e" => within(&what, input.saturating_mul(6)),
        _ => Ok(()),
    }
}

/// Rewrites compiled instructions: literal text through the formatter, `+`, `*` and `~` through
/// the checked functions. Jump targets move with the instructions they point at.
pub(super) fn rewrite(ins: &Instructions<'static>) -> Instructions<'static> {
    let n = u32::try_from(ins.len()).expect("a template of fewer than 2^32 instructions");
    let mut at = Vec::with_capacity(ins.len() + 1);
    let mut next = 0u32;
    for i in 0..n {
        at.push(next);
        next += if matches!(ins.get(i), Some(Instruction::EmitRaw(_))) {
            2
        } else {
            1
        };
    }
    at.push(next);
    let moved = |t: &u32| at.get(*t as usize).copied().unwrap_or(next);
    let mut out = Instructions::new(ins.name(), ins.source());
    for i in 0..n {
        let Some(instr) = ins.get(i) else { break };
        let line = ins.get_line(i).and_then(|l| u16::try_from(l).ok());
        let mut push = |x: Instruction<'static>| match line {
            Some(l) => out.add_with_line(x, l),
            None => out.add(x),
        };
        match instr {
            Instruction::EmitRaw(s) => {
                push(Instruction::LoadConst(Value::from_safe_string(
                    (*s).to_owned(),
                )));
                push(Instruction::Emit);
            }
            Instruction::Add => {
                push(Instruction::CallFunction(ADD, Some(2)));
            }
            Instruction::Mul => {
                push(Instruction::CallFunction(MUL, Some(2)));
            }
            Instruction::StringConcat => {
                push(Instruction::CallFunction(CONCAT, Some(2)));
            }
            Instruction::Jump(t) => {
                push(Instruction::Jump(moved(t)));
            }
            Instruction::JumpIfFalse(t) => {
                push(Instruction::JumpIfFalse(moved(t)));
            }
            Instruction::JumpIfFalseOrPop(t) => {
                push(Instruction::JumpIfFalseOrPop(moved(t)));
            }
            Instruction::JumpIfTrueOrPop(t) => {
                push(Instruction::JumpIfTrueOrPop(moved(t)));
            }
            Instruction::Iterate(t) => {
                push(Instruction::Iterate(moved(t)));
            }
            other => {
                push(other.clone());
            }
        }
    }
    out
}
