//! Questions `init` asks: on stderr, answered on stdin. A secret is read with the
//! terminal's echo off, so the key never appears on the screen (nor in a recording of it).

use std::io::{self, BufRead, IsTerminal, Write};

/// Whether there is a person to ask (stdin is a terminal).
pub(super) fn interactive() -> bool {
    io::stdin().is_terminal()
}

/// Asks `question`; an empty answer takes `default` when there is one.
pub(super) fn ask(question: &str, default: Option<&str>) -> io::Result<String> {
    let mut err = io::stderr().lock();
    match default {
        Some(d) => write!(err, "{question} [{d}]: ")?,
        None => write!(err, "{question}: ")?,
    }
    err.flush()?;
    drop(err);
    let answer = read_line()?;
    let answer = answer.trim();
    Ok(match (answer.is_empty(), default) {
        (true, Some(d)) => d.to_string(),
        _ => answer.to_string(),
    })
}

/// Asks for a secret with echo off (when stdin is a terminal); the answer is trimmed.
pub(super) fn ask_secret(question: &str) -> io::Result<String> {
    {
        let mut err = io::stderr().lock();
        write!(err, "{question} (typing is not shown): ")?;
        err.flush()?;
    }
    let answer = {
        let _quiet = EchoOff::new();
        read_line()
    };
    // The Enter the user typed was not echoed either.
    eprintln!();
    Ok(answer?.trim().to_string())
}

/// The first line of stdin (a key piped in, or typed).
pub(super) fn read_line() -> io::Result<String> {
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Turns the terminal's echo off on stdin for as long as it lives (a no-op when stdin is
/// not a terminal).
struct EchoOff {
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        if !io::stdin().is_terminal() {
            return EchoOff { saved: None };
        }
        // SAFETY: tcgetattr/tcsetattr read and write a plain struct for fd 0; a failure
        // leaves the terminal as it was (and `saved` empty, so nothing is restored).
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(libc::STDIN_FILENO, &mut term) != 0 {
                return EchoOff { saved: None };
            }
            let saved = term;
            term.c_lflag &= !(libc::ECHO | libc::ECHONL);
            term.c_lflag |= libc::ICANON;
            if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &term) != 0 {
                return EchoOff { saved: None };
            }
            EchoOff { saved: Some(saved) }
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `new` on the same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
            }
        }
    }
}
