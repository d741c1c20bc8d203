//! Examples and command-line tools.
