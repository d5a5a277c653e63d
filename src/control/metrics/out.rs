//! One family and sample at a time in the Prometheus text format: label values escaped (`\`,
//! `"`, newline), histograms as cumulative buckets, durations in seconds.

use std::fmt::Write as _;

use super::Histogram;

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes one family at a time.
pub(super) struct Out(pub(super) String);

impl Out {
    pub(super) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    pub(super) fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.0, "{{{}}}", l.join(","));
        }
        let _ = writeln!(self.0, " {value}");
    }

    pub(super) fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let (buckets, sum) = h.cumulative();
        let mut count = 0;
        for (le, n) in &buckets {
            let mut l = labels.to_vec();
            l.push(("le", le));
            self.sample(&format!("{name}_bucket"), &l, n);
            count = *n;
        }
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count);
    }
}

pub(super) fn flag(b: bool) -> u8 {
    u8::from(b)
}

pub(super) fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
