//! The Beslan dataset, embedded in the binary so that `vigil serve --demo`
//! works from any directory.

use crate::files::Folder;
use crate::model::Table;

/// The slug of the demo event.
pub const SLUG: &str = "beslan-2004";

/// `imports/beslan-2004/` as it was when the binary was built.
pub fn beslan() -> Folder {
    Folder::from_bytes([
        (
            Table::Event,
            include_bytes!("../imports/beslan-2004/event.csv").to_vec(),
        ),
        (
            Table::Sources,
            include_bytes!("../imports/beslan-2004/sources.csv").to_vec(),
        ),
        (
            Table::Figures,
            include_bytes!("../imports/beslan-2004/figures.csv").to_vec(),
        ),
        (
            Table::Claims,
            include_bytes!("../imports/beslan-2004/claims.csv").to_vec(),
        ),
        (
            Table::Rules,
            include_bytes!("../imports/beslan-2004/rules.csv").to_vec(),
        ),
    ])
}
