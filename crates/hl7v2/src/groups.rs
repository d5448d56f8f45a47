//! Segment groups: a message's segments arranged by its abstract message structure (the
//! `ORDER_OBSERVATION` groups of an `ORU_R01`, each with its `OBSERVATION`s, …).
//!
//! The structures are written from the standard's abstract message syntax tables (v2.5.1
//! chapter 2–10 definitions), trimmed to the segments that carry clinical data; segments a
//! structure does not name (Z-segments, or ones from later versions) stay in the group they
//! appear in, so nothing is dropped.

use crate::Message;

/// One element of a structure: a segment or a group, optional or required, once or repeating.
#[derive(Debug)]
enum Rule {
    Segment(&'static str, Card),
    Group(&'static str, Card, &'static [Rule]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Card {
    /// `SEG`: exactly one.
    One,
    /// `[SEG]`.
    Optional,
    /// `{SEG}`.
    Many,
    /// `[{SEG}]`.
    AnyNumber,
}

impl Card {
    fn repeats(self) -> bool {
        matches!(self, Card::Many | Card::AnyNumber)
    }

    fn required(self) -> bool {
        matches!(self, Card::One | Card::Many)
    }
}

use Card::{AnyNumber, Many, One, Optional};
use Rule::{Group as G, Segment as S};

const OBSERVATION: &[Rule] = &[S("OBX", One), S("NTE", AnyNumber)];
const VISIT: &[Rule] = &[S("PV1", One), S("PV2", Optional)];
const INSURANCE: &[Rule] = &[
    S("IN1", One),
    S("IN2", Optional),
    S("IN3", AnyNumber),
    S("ROL", AnyNumber),
];
const TIMING: &[Rule] = &[S("TQ1", One), S("TQ2", AnyNumber)];
const PROCEDURE: &[Rule] = &[S("PR1", One), S("ROL", AnyNumber)];

const ADT_A01: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("EVN", One),
    S("PID", One),
    S("PD1", Optional),
    S("ROL", AnyNumber),
    S("NK1", AnyNumber),
    S("PV1", One),
    S("PV2", Optional),
    S("ROL", AnyNumber),
    S("DB1", AnyNumber),
    S("OBX", AnyNumber),
    S("AL1", AnyNumber),
    S("DG1", AnyNumber),
    S("DRG", Optional),
    G("PROCEDURE", AnyNumber, PROCEDURE),
    S("GT1", AnyNumber),
    G("INSURANCE", AnyNumber, INSURANCE),
    S("ACC", Optional),
    S("UB1", Optional),
    S("UB2", Optional),
    S("PDA", Optional),
];

const ADT_A03: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("EVN", One),
    S("PID", One),
    S("PD1", Optional),
    S("ROL", AnyNumber),
    S("NK1", AnyNumber),
    S("PV1", One),
    S("PV2", Optional),
    S("ROL", AnyNumber),
    S("DB1", AnyNumber),
    S("AL1", AnyNumber),
    S("DG1", AnyNumber),
    S("DRG", Optional),
    G("PROCEDURE", AnyNumber, PROCEDURE),
    S("OBX", AnyNumber),
    S("GT1", AnyNumber),
    G("INSURANCE", AnyNumber, INSURANCE),
    S("ACC", Optional),
    S("PDA", Optional),
];

const ADT_A09: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("EVN", One),
    S("PID", One),
    S("PD1", Optional),
    S("PV1", One),
    S("PV2", Optional),
    S("DB1", AnyNumber),
    S("OBX", AnyNumber),
    S("DG1", AnyNumber),
];

const ADT_A39: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("EVN", One),
    G(
        "PATIENT",
        Many,
        &[
            S("PID", One),
            S("PD1", Optional),
            S("MRG", One),
            S("PV1", Optional),
        ],
    ),
];

const ORU_R01: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    G(
        "PATIENT_RESULT",
        Many,
        &[
            G(
                "PATIENT",
                Optional,
                &[
                    S("PID", One),
                    S("PD1", Optional),
                    S("NTE", AnyNumber),
                    S("NK1", AnyNumber),
                    G("VISIT", Optional, VISIT),
                ],
            ),
            G(
                "ORDER_OBSERVATION",
                Many,
                &[
                    S("ORC", Optional),
                    S("OBR", One),
                    S("NTE", AnyNumber),
                    G("TIMING_QTY", AnyNumber, TIMING),
                    S("CTD", Optional),
                    G("OBSERVATION", AnyNumber, OBSERVATION),
                    S("FT1", AnyNumber),
                    S("CTI", AnyNumber),
                    G("SPECIMEN", AnyNumber, &[S("SPM", One), S("OBX", AnyNumber)]),
                ],
            ),
        ],
    ),
    S("DSC", Optional),
];

const ORM_O01: &[Rule] = &[
    S("MSH", One),
    S("NTE", AnyNumber),
    G(
        "PATIENT",
        Optional,
        &[
            S("PID", One),
            S("PD1", Optional),
            S("NTE", AnyNumber),
            G("PATIENT_VISIT", Optional, VISIT),
            G("INSURANCE", AnyNumber, INSURANCE),
            S("GT1", Optional),
            S("AL1", AnyNumber),
        ],
    ),
    G(
        "ORDER",
        Many,
        &[
            S("ORC", One),
            G(
                "ORDER_DETAIL",
                Optional,
                &[
                    S("OBR", One),
                    S("NTE", AnyNumber),
                    S("CTD", Optional),
                    S("DG1", AnyNumber),
                    G("OBSERVATION", AnyNumber, OBSERVATION),
                ],
            ),
            S("FT1", AnyNumber),
            S("CTI", AnyNumber),
            S("BLG", Optional),
        ],
    ),
];

const OML_O21: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("NTE", AnyNumber),
    G(
        "PATIENT",
        Optional,
        &[
            S("PID", One),
            S("PD1", Optional),
            S("NTE", AnyNumber),
            S("NK1", AnyNumber),
            G("PATIENT_VISIT", Optional, VISIT),
            G("INSURANCE", AnyNumber, INSURANCE),
            S("GT1", Optional),
            S("AL1", AnyNumber),
        ],
    ),
    G(
        "ORDER",
        Many,
        &[
            S("ORC", One),
            G("TIMING", AnyNumber, TIMING),
            G(
                "OBSERVATION_REQUEST",
                Optional,
                &[
                    S("OBR", One),
                    S("TCD", Optional),
                    S("NTE", AnyNumber),
                    S("DG1", AnyNumber),
                    G(
                        "OBSERVATION",
                        AnyNumber,
                        &[S("OBX", One), S("TCD", Optional), S("NTE", AnyNumber)],
                    ),
                    G(
                        "SPECIMEN",
                        AnyNumber,
                        &[
                            S("SPM", One),
                            S("OBX", AnyNumber),
                            G(
                                "CONTAINER",
                                AnyNumber,
                                &[S("SAC", One), S("OBX", AnyNumber)],
                            ),
                        ],
                    ),
                ],
            ),
            S("FT1", AnyNumber),
            S("CTI", AnyNumber),
            S("BLG", Optional),
        ],
    ),
];

const VXU_V04: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("PID", One),
    S("PD1", Optional),
    S("NK1", AnyNumber),
    G("PATIENT", Optional, VISIT),
    S("GT1", AnyNumber),
    G("INSURANCE", AnyNumber, INSURANCE),
    G(
        "ORDER",
        AnyNumber,
        &[
            S("ORC", One),
            G("TIMING", AnyNumber, TIMING),
            S("RXA", One),
            S("RXR", Optional),
            G("OBSERVATION", AnyNumber, OBSERVATION),
        ],
    ),
];

const SIU_S12: &[Rule] = &[
    S("MSH", One),
    S("SCH", One),
    S("TQ1", AnyNumber),
    S("NTE", AnyNumber),
    G(
        "PATIENT",
        AnyNumber,
        &[
            S("PID", One),
            S("PD1", Optional),
            S("PV1", Optional),
            S("PV2", Optional),
            S("OBX", AnyNumber),
            S("DG1", AnyNumber),
        ],
    ),
    G(
        "RESOURCES",
        Many,
        &[
            S("RGS", One),
            G("SERVICE", AnyNumber, &[S("AIS", One), S("NTE", AnyNumber)]),
            G(
                "GENERAL_RESOURCE",
                AnyNumber,
                &[S("AIG", One), S("NTE", AnyNumber)],
            ),
            G(
                "LOCATION_RESOURCE",
                AnyNumber,
                &[S("AIL", One), S("NTE", AnyNumber)],
            ),
            G(
                "PERSONNEL_RESOURCE",
                AnyNumber,
                &[S("AIP", One), S("NTE", AnyNumber)],
            ),
        ],
    ),
];

const ACK: &[Rule] = &[
    S("MSH", One),
    S("SFT", AnyNumber),
    S("MSA", One),
    S("ERR", AnyNumber),
];

/// The structure a message uses: MSH-9-3 when given, otherwise by message type and event.
pub fn structure_name(message: &Message<'_>) -> Option<&'static str> {
    let (code, event, declared) = message.message_type();
    let by_declared = STRUCTURES
        .iter()
        .find(|(name, _)| *name == declared)
        .map(|(name, _)| *name);
    by_declared.or(match (code, event) {
        ("ADT", "A01" | "A04" | "A05" | "A08" | "A13" | "A14" | "A28" | "A31") => Some("ADT_A01"),
        ("ADT", "A03") => Some("ADT_A03"),
        ("ADT", "A11" | "A12" | "A09" | "A10") => Some("ADT_A09"),
        ("ADT", "A40" | "A39" | "A41" | "A42") => Some("ADT_A39"),
        ("ORU", "R01") => Some("ORU_R01"),
        ("ORM", "O01") => Some("ORM_O01"),
        ("OML", "O21") => Some("OML_O21"),
        ("VXU", "V04") => Some("VXU_V04"),
        ("SIU", _) => Some("SIU_S12"),
        ("ACK", _) => Some("ACK"),
        _ => None,
    })
}

const STRUCTURES: &[(&str, &[Rule])] = &[
    ("ADT_A01", ADT_A01),
    ("ADT_A03", ADT_A03),
    ("ADT_A09", ADT_A09),
    ("ADT_A39", ADT_A39),
    ("ORU_R01", ORU_R01),
    ("ORM_O01", ORM_O01),
    ("OML_O21", OML_O21),
    ("VXU_V04", VXU_V04),
    ("SIU_S12", SIU_S12),
    ("ACK", ACK),
];

/// A group and what it holds, in message order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The group's name (`ORDER_OBSERVATION`; the structure's name for the root).
    pub name: &'static str,
    /// Segments (by index into the message) and nested groups.
    pub children: Vec<Node>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// The segment at this index of the message (0 = MSH).
    Segment(usize),
    /// A nested group.
    Group(Group),
}

impl Group {
    /// The nested groups named `name`, at any depth, in message order.
    pub fn all(&self, name: &str) -> Vec<&Group> {
        let mut found = Vec::new();
        self.collect(name, &mut found);
        found
    }

    fn collect<'g>(&'g self, name: &str, found: &mut Vec<&'g Group>) {
        for child in &self.children {
            if let Node::Group(group) = child {
                if group.name == name {
                    found.push(group);
                }
                group.collect(name, found);
            }
        }
    }

    /// Indexes of this group's own segments (not nested ones) named `segment`.
    pub fn segments(&self, message: &Message<'_>, segment: &str) -> Vec<usize> {
        self.children
            .iter()
            .filter_map(|child| match child {
                Node::Segment(index) => Some(*index),
                Node::Group(_) => None,
            })
            .filter(|index| {
                message
                    .segment_index(*index)
                    .is_some_and(|s| s.name() == segment)
            })
            .collect()
    }
}

/// Arranges the message's segments into the groups of its structure. `None` when the
/// structure is not one this crate knows; segments the structure does not name stay where
/// they occur; segments after the last place the structure allows are appended to the root.
pub fn group(message: &Message<'_>) -> Option<Group> {
    let name = structure_name(message)?;
    let (_, rules) = STRUCTURES.iter().find(|(n, _)| *n == name)?;
    let names: Vec<&str> = message.segments().map(|s| s.name()).collect();
    let mut known = Vec::new();
    collect_names(rules, &mut known);
    let mut at = 0;
    let mut root = Group {
        name,
        children: Vec::new(),
    };
    match_rules(rules, &names, &known, &mut at, &mut root.children);
    // Whatever did not fit stays, in order, at the end of the root.
    root.children.extend((at..names.len()).map(Node::Segment));
    Some(root)
}

fn collect_names(rules: &[Rule], names: &mut Vec<&'static str>) {
    for rule in rules {
        match rule {
            S(name, _) => names.push(name),
            G(_, _, inner) => collect_names(inner, names),
        }
    }
}

/// The segment names that can start `rules`: those of the leading optional elements and of
/// the first required one.
fn first_names(rules: &[Rule], names: &mut Vec<&'static str>) {
    for rule in rules {
        match rule {
            S(name, card) => {
                names.push(name);
                if card.required() {
                    return;
                }
            }
            G(_, card, inner) => {
                first_names(inner, names);
                if card.required() {
                    return;
                }
            }
        }
    }
}

fn starts(rule: &Rule, name: &str) -> bool {
    match rule {
        S(segment, _) => *segment == name,
        G(_, _, inner) => {
            let mut names = Vec::new();
            first_names(inner, &mut names);
            names.contains(&name)
        }
    }
}

fn match_rules(
    rules: &[Rule],
    names: &[&str],
    known: &[&str],
    at: &mut usize,
    out: &mut Vec<Node>,
) {
    for (position, rule) in rules.iter().enumerate() {
        let card = match rule {
            S(_, card) | G(_, card, _) => *card,
        };
        let mut matched = 0;
        loop {
            absorb_unknown(names, known, at, out);
            let Some(name) = names.get(*at) else { return };
            if !starts(rule, name) {
                break;
            }
            // A repeat of a group starts again only with the group's own first segment, so
            // that a later rule in the parent (`NTE` after `OBSERVATION`s) is not taken as a
            // new repetition.
            if matched > 0
                && rules[position + 1..]
                    .iter()
                    .any(|later| starts(later, name))
                && let G(_, _, inner) = rule
            {
                let mut leading = Vec::new();
                first_names(inner, &mut leading);
                if leading.first() != Some(name) {
                    break;
                }
            }
            match rule {
                S(..) => {
                    out.push(Node::Segment(*at));
                    *at += 1;
                }
                G(group_name, _, inner) => {
                    let mut group = Group {
                        name: group_name,
                        children: Vec::new(),
                    };
                    let before = *at;
                    match_rules(inner, names, known, at, &mut group.children);
                    if *at == before {
                        break;
                    }
                    out.push(Node::Group(group));
                }
            }
            matched += 1;
            if !card.repeats() {
                break;
            }
        }
    }
}

fn absorb_unknown(names: &[&str], known: &[&str], at: &mut usize, out: &mut Vec<Node>) {
    while let Some(name) = names.get(*at) {
        if known.contains(name) {
            return;
        }
        out.push(Node::Segment(*at));
        *at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse;

    fn render(message: &Message<'_>, group: &Group) -> String {
        group
            .children
            .iter()
            .map(|child| match child {
                Node::Segment(i) => message.segment_index(*i).unwrap().name().to_owned(),
                Node::Group(g) => format!("{}({})", g.name, render(message, g)),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn oru_with_two_orders_and_notes() {
        let text = "MSH|^~\\&|LAB||EHR||20240101||ORU^R01|1|P|2.5.1\r\
PID|1||7^^^H^MR\r\
PV1|1|O\r\
OBR|1||F1|24331-1^Lipid panel^LN\r\
NTE|1||fasting\r\
OBX|1|NM|2093-3^Chol^LN||180|mg/dL\r\
NTE|1||borderline\r\
OBX|2|NM|2571-8^Trig^LN||150|mg/dL\r\
ZLB|custom\r\
OBR|2||F2|4548-4^HbA1c^LN\r\
OBX|1|NM|4548-4^HbA1c^LN||6.1|%\r";
        let message = parse(text.as_bytes(), &Default::default()).unwrap();
        let tree = group(&message).unwrap();
        assert_eq!(tree.name, "ORU_R01");
        assert_eq!(
            render(&message, &tree),
            "MSH PATIENT_RESULT(PATIENT(PID VISIT(PV1)) \
             ORDER_OBSERVATION(OBR NTE OBSERVATION(OBX NTE) OBSERVATION(OBX ZLB)) \
             ORDER_OBSERVATION(OBR OBSERVATION(OBX)))"
        );
        let orders = tree.all("ORDER_OBSERVATION");
        assert_eq!(orders.len(), 2);
        assert_eq!(orders[0].all("OBSERVATION").len(), 2);
        assert_eq!(orders[1].all("OBSERVATION").len(), 1);
        assert_eq!(orders[0].segments(&message, "OBR"), vec![3]);
    }

    #[test]
    fn structures_by_event() {
        let message = parse(
            b"MSH|^~\\&|A||B||1||ADT^A04|1|P|2.3\rEVN|A04\rPID|1\rPV1|1\rZPI|x\r",
            &Default::default(),
        )
        .unwrap();
        let tree = group(&message).unwrap();
        assert_eq!(tree.name, "ADT_A01");
        assert_eq!(tree.children.len(), 5);
        let unknown = parse(b"MSH|^~\\&|A||B||1||MFN^M02|1|P|2.5\r", &Default::default()).unwrap();
        assert!(group(&unknown).is_none());
    }
}
