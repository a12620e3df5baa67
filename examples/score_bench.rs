//! See `ml_examples::score_bench` (crates/ml-examples/src/score_bench) for what this example does and how to
//! run it; the tests call the same code.

use std::process::ExitCode;

use ml_examples::score_bench::{run, Args};

fn main() -> ExitCode {
    let args = match ml_examples::parse_args::<Args>() {
        Ok(args) => args,
        Err(code) => return code,
    };
    ml_examples::finish(run(&args, &mut std::io::stdout()))
}
