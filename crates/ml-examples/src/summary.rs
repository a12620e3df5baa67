//! The closing JSON line of a run, and how an example's `main` ends: the line on stdout and exit
//! code 0, or the error as one line on stderr and exit code 1.

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

/// The key figures of one run: the JSON object an example prints as its last line of output.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    json: serde_json::Value,
    line: String,
}

impl Summary {
    /// A summary printed as `json` in serde_json's compact form (keys sorted).
    pub fn new(json: serde_json::Value) -> Self {
        let line = json.to_string();
        Summary { json, line }
    }

    /// A use case's summary: `figures` with `"example": name` added.
    pub fn for_example(name: &str, mut figures: serde_json::Value) -> Self {
        if let serde_json::Value::Object(m) = &mut figures {
            m.insert("example".into(), serde_json::json!(name));
        }
        Summary::new(figures)
    }

    /// A summary whose line is written out already (for keys in a documented order rather than
    /// sorted); `line` must be one JSON object.
    pub fn from_line(line: String) -> Result<Self, serde_json::Error> {
        let json = serde_json::from_str(&line)?;
        Ok(Summary { json, line })
    }

    /// The figures as JSON.
    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// The line printed at the end of the run (no newline).
    pub fn line(&self) -> &str {
        &self.line
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line)
    }
}

/// An error and its causes on one line: `outer: cause: root cause`. A cause whose text the line
/// already holds (errors that print their source themselves) is not repeated.
pub fn error_line(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

/// Ends an example's `main`: prints the summary line on stdout and returns success, or prints
/// `error: <error and causes>` on stderr and returns failure (exit code 1).
pub fn finish(result: crate::Result<Summary>) -> ExitCode {
    match result {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", error_line(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The flags of an example's `main`, or the exit code to return at once: `--help` and
/// `--version` print as clap prints them (exit code 0); a flag clap refuses is one line on
/// stderr, clap's first (`error: invalid value '-1' for '--num-round <NUM_ROUND>': ...`),
/// without the usage and tips that follow it, and exit code 2.
pub fn parse_args<A: clap::Parser>() -> Result<A, ExitCode> {
    A::try_parse().map_err(|e| {
        if e.use_stderr() {
            eprintln!("{}", clap_error_line(&e));
            ExitCode::from(2)
        } else {
            let _ = e.print();
            ExitCode::SUCCESS
        }
    })
}

/// Clap's message for `e` on one line: its first paragraph (`error: ...`, with the list that
/// follows it for missing arguments), without the usage and tips after it, and without colours.
pub fn clap_error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let parts: Vec<&str> = text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    if parts.is_empty() {
        "error: invalid command line".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(std::io::Error, bool);
    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            if self.1 {
                write!(f, "cannot read 'x.csv': {}", self.0)
            } else {
                write!(f, "cannot read 'x.csv'")
            }
        }
    }
    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_line_appends_causes_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            error_line(&Wrapped(io(), false)),
            "cannot read 'x.csv': no such file"
        );
        assert_eq!(
            error_line(&Wrapped(io(), true)),
            "cannot read 'x.csv': no such file"
        );
    }

    #[test]
    fn a_refused_flag_is_one_line_naming_it() {
        #[derive(clap::Parser, Debug)]
        #[allow(dead_code)]
        struct Flags {
            #[arg(long)]
            num_round: usize,
        }
        let e = <Flags as clap::Parser>::try_parse_from(["t", "--num-round=-1"]).unwrap_err();
        let line = clap_error_line(&e);
        assert!(
            line.starts_with("error: ") && line.contains("--num-round"),
            "{line}"
        );
        assert!(
            e.render().to_string().lines().count() > 1,
            "clap's own text has more lines"
        );
        assert!(!line.contains('\n'));
        // A missing flag: the line names it (clap lists it on the next line).
        let e = <Flags as clap::Parser>::try_parse_from(["t"]).unwrap_err();
        let line = clap_error_line(&e);
        assert!(
            line.contains("required") && line.contains("--num-round"),
            "{line}"
        );
        assert!(!line.contains("Usage") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn summary_keeps_a_written_line_and_sorts_built_ones() {
        let s = Summary::from_line(r#"{"b": 1, "a": 2}"#.to_string()).unwrap();
        assert_eq!(s.to_string(), r#"{"b": 1, "a": 2}"#);
        assert_eq!(s.json()["a"], 2);
        let s = Summary::for_example("x", serde_json::json!({"b": 1, "a": 2}));
        assert_eq!(s.to_string(), r#"{"a":2,"b":1,"example":"x"}"#);
        assert!(Summary::from_line("not json".into()).is_err());
    }
}
