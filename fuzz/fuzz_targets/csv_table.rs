//! One file of an import folder fuzzed, the other four Beslan's own: the
//! first byte picks the file (its value modulo 5, in the order event,
//! sources, figures, claims, rules), the rest are its bytes. See
//! `vigil_fuzz::check_folder` for what must hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigil::model::Table;
use vigil_fuzz::{check_folder, BESLAN};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let fuzzed = Table::ALL[usize::from(selector) % Table::ALL.len()];
    check_folder(BESLAN.iter().map(|&(table, beslan)| {
        let file = if table == fuzzed { bytes } else { beslan };
        (table, file.to_vec())
    }));
});
