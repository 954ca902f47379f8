//! Pieces of on-call time and the overlay of one sorted list of them on another: where the top
//! list has someone, the bottom one is hidden. Knows nothing of time zones or rotations.

/// Where an on-call piece comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The layer at this 0-based index of the schedule's `layers`.
    Layer(usize),
    /// The override at this 0-based index of the schedule's `overrides`.
    Override(usize),
}

/// A [`Source`] in 32 bits, so that a piece fits in 24 bytes: layers count up from 0,
/// overrides from 2^31.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tag(u32);

const OVERRIDE: u32 = 1 << 31;

impl Tag {
    fn new(index: usize, kind: u32) -> Tag {
        let i = u32::try_from(index)
            .ok()
            .filter(|&i| i < OVERRIDE)
            .expect("a schedule holds fewer than 2^31 layers or overrides");
        Tag(i | kind)
    }

    pub(super) fn layer(index: usize) -> Tag {
        Tag::new(index, 0)
    }

    pub(super) fn cover(index: usize) -> Tag {
        Tag::new(index, OVERRIDE)
    }

    pub(super) fn source(self) -> Source {
        let index = (self.0 & !OVERRIDE) as usize;
        if self.0 & OVERRIDE == 0 {
            Source::Layer(index)
        } else {
            Source::Override(index)
        }
    }
}

/// One user on call from `start` to `end` (epoch ms, end exclusive), by the schedule's user
/// index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Piece {
    pub start: i64,
    pub end: i64,
    pub user: u32,
    pub source: Tag,
}

/// Appends `p` to a sorted, disjoint list, extending the last piece instead when `p` continues
/// it (same user, same source, no gap).
pub(super) fn push(out: &mut Vec<Piece>, p: Piece) {
    match out.last_mut() {
        Some(last) if last.end == p.start && last.user == p.user && last.source == p.source => {
            last.end = p.end;
        }
        _ => out.push(p),
    }
}

/// Writes into `out` the pieces of `top` and the parts of `base` that `top` does not cover, in
/// order. Both inputs are sorted and disjoint; so is the result.
pub(super) fn overlay(base: &[Piece], top: &[Piece], out: &mut Vec<Piece>) {
    out.clear();
    out.reserve(base.len() + 2 * top.len());
    let mut next_base = base.iter().copied();
    let mut b = next_base.next();
    let mut tops = top.iter().copied().peekable();
    loop {
        match (b, tops.peek().copied()) {
            (None, None) => return,
            (Some(piece), None) => {
                push(out, piece);
                b = next_base.next();
            }
            (Some(piece), Some(t)) if piece.end <= t.start => {
                push(out, piece);
                b = next_base.next();
            }
            (Some(piece), Some(t)) if piece.start < t.start => {
                // The base piece starts first: its part before the top one shows.
                push(
                    out,
                    Piece {
                        end: t.start,
                        ..piece
                    },
                );
                b = Some(Piece {
                    start: t.start,
                    ..piece
                });
            }
            (_, Some(t)) => {
                push(out, t);
                tops.next();
                // Drop what the top piece hides.
                while let Some(piece) = b {
                    if piece.end <= t.end {
                        b = next_base.next();
                    } else {
                        b = Some(Piece {
                            start: piece.start.max(t.end),
                            ..piece
                        });
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(start: i64, end: i64, user: u32, source: Tag) -> Piece {
        Piece {
            start,
            end,
            user,
            source,
        }
    }

    #[test]
    fn the_top_hides_what_it_covers_and_nothing_else() {
        let (l0, l1) = (Tag::layer(0), Tag::layer(1));
        let base = [p(0, 10, 0, l0), p(10, 20, 1, l0), p(25, 30, 0, l0)];
        let top = [
            p(5, 12, 2, l1),
            p(14, 16, 2, l1),
            p(22, 40, 3, l1),
            p(50, 60, 2, l1),
        ];
        let mut out = Vec::new();
        overlay(&base, &top, &mut out);
        let want = [
            p(0, 5, 0, l0),
            p(5, 12, 2, l1),
            p(12, 14, 1, l0),
            p(14, 16, 2, l1),
            p(16, 20, 1, l0),
            p(22, 40, 3, l1),
            p(50, 60, 2, l1),
        ];
        assert_eq!(out, want);
        overlay(&base, &[], &mut out);
        assert_eq!(out, base);
        overlay(&[], &top, &mut out);
        assert_eq!(out, top);
    }

    #[test]
    fn tags_pack_sources() {
        assert_eq!(Tag::layer(3).source(), Source::Layer(3));
        assert_eq!(Tag::cover(3).source(), Source::Override(3));
        assert_ne!(Tag::layer(0), Tag::cover(0));
        assert_eq!(std::mem::size_of::<Piece>(), 24);
    }

    #[test]
    fn pieces_that_continue_each_other_merge() {
        let (l0, l1) = (Tag::layer(0), Tag::layer(1));
        let mut out = Vec::new();
        push(&mut out, p(0, 5, 0, l0));
        push(&mut out, p(5, 7, 0, l0));
        push(&mut out, p(7, 9, 0, l1));
        push(&mut out, p(10, 12, 0, l1));
        assert_eq!(out, [p(0, 7, 0, l0), p(7, 9, 0, l1), p(10, 12, 0, l1)]);
    }
}
