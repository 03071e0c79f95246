//! The `lux` command line: [`lux::cli::main`] with every built-in plugin linked.

// Plugins register themselves with typetag when their crate is linked; name the crates so
// recipe files can use every built-in plugin.
use lux::data as _;
use lux::eval as _;
#[cfg(feature = "plugins")]
use lux::plugins as _;
use lux::train as _;

fn main() -> std::process::ExitCode {
    lux::cli::main()
}
