//! Printing for the command line that exits quietly when stdout is a closed
//! pipe (`swarmux list | head`), as `cat` and `ls` do, instead of panicking
//! the way `println!` does.

use std::io::Write;

/// Writes `text` to stdout; a closed pipe ends the process with status 0,
/// any other write error with status 1 and a one-line message.
pub fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("swarmux: cannot write the answer: {e}");
        std::process::exit(1);
    }
}

/// `println!` that exits quietly on a closed pipe (see [`write_stdout`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that exits quietly on a closed pipe (see [`write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::write_stdout(&format!($($arg)*))
    };
}

pub(crate) use {out, outln};
