//! All five files of an import folder from one input, split at 0xFF bytes
//! (a byte UTF-8 never holds) in the order event, sources, figures, claims,
//! rules; a file with no part is missing. See `vigil_fuzz::check_folder` for
//! what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::model::Table;
use vigil_fuzz::check_folder;

fuzz_target!(|data: &[u8]| {
    let parts = data.splitn(Table::ALL.len(), |b| *b == 0xFF);
    check_folder(Table::ALL.iter().copied().zip(parts.map(<[u8]>::to_vec)));
});
