//! The size given to the command's terminal (SPEC 5, `--pty`).
//!
//! The first of logmask's stdout, stderr and stdin that is a terminal
//! gives the size; else `COLUMNS` x `LINES` when both are positive
//! numbers; else 80 x 24. A terminal that reports no size (0 rows or 0
//! columns, as a fresh pseudo-terminal does) gives none and the next
//! source is asked: a 0 x 0 terminal would make every program that lays
//! out text by width misbehave.

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;

use rustix::termios::{Winsize, isatty, tcgetwinsize};

/// Rows and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub columns: u16,
    pub rows: u16,
}

/// Used when no terminal and no environment gives a size.
pub const DEFAULT: Size = Size {
    columns: 80,
    rows: 24,
};

impl Size {
    pub fn winsize(self) -> Winsize {
        Winsize {
            ws_row: self.rows,
            ws_col: self.columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        }
    }
}

/// The size now: asks logmask's own terminals, then the environment.
pub fn current() -> Size {
    let terminals = [
        rustix::stdio::stdout(),
        rustix::stdio::stderr(),
        rustix::stdio::stdin(),
    ]
    .map(terminal_size);
    choose(
        terminals,
        std::env::var_os("COLUMNS").as_deref(),
        std::env::var_os("LINES").as_deref(),
    )
}

/// The size of `fd` when it is a terminal that reports one.
fn terminal_size(fd: BorrowedFd<'_>) -> Option<Size> {
    if !isatty(fd) {
        return None;
    }
    let size = tcgetwinsize(fd).ok()?;
    (size.ws_col > 0 && size.ws_row > 0).then_some(Size {
        columns: size.ws_col,
        rows: size.ws_row,
    })
}

/// The rule itself, from what each source says.
pub fn choose(
    terminals: impl IntoIterator<Item = Option<Size>>,
    columns: Option<&OsStr>,
    lines: Option<&OsStr>,
) -> Size {
    if let Some(size) = terminals.into_iter().flatten().next() {
        return size;
    }
    match (columns.and_then(positive), lines.and_then(positive)) {
        (Some(columns), Some(rows)) => Size { columns, rows },
        _ => DEFAULT,
    }
}

/// A positive decimal number that fits a terminal's 16-bit size: digits
/// only (no sign, no spaces), as shells export them.
fn positive(text: &OsStr) -> Option<u16> {
    let text = text.to_str()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(columns: u16, rows: u16) -> Size {
        Size { columns, rows }
    }

    #[test]
    fn first_terminal_then_environment_then_default() {
        let t = Some(size(100, 30));
        let u = Some(size(132, 50));
        let cases: [(&[Option<Size>], Option<&str>, Option<&str>, Size); 14] = [
            (&[t, u, None], Some("7"), Some("8"), size(100, 30)),
            (&[None, u, t], Some("7"), Some("8"), size(132, 50)),
            (&[None, None, t], None, None, size(100, 30)),
            (&[None, None, None], Some("120"), Some("40"), size(120, 40)),
            (&[None, None, None], Some("1"), Some("1"), size(1, 1)),
            (&[None, None, None], None, None, DEFAULT),
            (&[None, None, None], Some("120"), None, DEFAULT),
            (&[None, None, None], None, Some("40"), DEFAULT),
            (&[None, None, None], Some("0"), Some("40"), DEFAULT),
            (&[None, None, None], Some("-5"), Some("40"), DEFAULT),
            (&[None, None, None], Some("+5"), Some("40"), DEFAULT),
            (&[None, None, None], Some(" 5"), Some("40"), DEFAULT),
            (&[None, None, None], Some("abc"), Some("40"), DEFAULT),
            (&[None, None, None], Some("70000"), Some("40"), DEFAULT),
        ];
        for (terminals, columns, lines, expected) in cases {
            let got = choose(
                terminals.iter().copied(),
                columns.map(OsStr::new),
                lines.map(OsStr::new),
            );
            assert_eq!(got, expected, "{terminals:?} {columns:?} {lines:?}");
        }
    }
}
