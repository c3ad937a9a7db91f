//! `$BASH_ENV`: CircleCI sources this file before every later step.

use std::path::Path;

use super::append::Append;
use super::{Delivery, Order, Sink, shell};
use crate::error::Result;

pub struct BashEnv {
    file: Append,
}

impl BashEnv {
    pub fn new(path: &Path) -> BashEnv {
        BashEnv {
            file: Append::new(path, "$BASH_ENV"),
        }
    }
}

impl Sink for BashEnv {
    fn order(&self) -> Order {
        Order::Append
    }

    fn stage(&mut self, delivery: &Delivery) -> Result<()> {
        let names: Vec<&str> = delivery.variables.iter().map(|(name, _)| *name).collect();
        // A write cut short may have left a single quote open.
        self.file.stage(
            shell::export_lines(&delivery.variables),
            "'\n".into(),
            format!("unset {}\n", names.join(" ")),
        )
    }

    fn commit(&mut self) -> Result<()> {
        self.file.commit()
    }

    fn revoke(&mut self) {
        self.file.revoke();
    }
}
