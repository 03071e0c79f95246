//! `lux-custom`: the whole `lux` command line with this crate's plugins linked in.
//!
//! A plugin registers itself with typetag when its crate is linked, and a crate the binary
//! never names is not linked: name every plugin crate (`use … as _;`), lux's built-in ones too.
//! `lux::cli::main` does the rest (including `keep_freed_memory`).

use lux::data as _;
use lux::eval as _;
use lux::plugins as _;
use lux::train as _;
use lux_custom_plugin as _;

fn main() -> std::process::ExitCode {
    lux::cli::main()
}
