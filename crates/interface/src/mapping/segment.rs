//! Reading values out of segments: a segment together with its place in the message (so that
//! errors can name an HL7 location such as `OBX^3^5`), and [`Parts`], one composite value
//! (a field repetition's components or a component's sub-components) read the same way at
//! either level.

use medulla_hl7v2::{Component, Message, Repetition, Segment};

/// A segment and which occurrence of its name it is (1-based, through the whole message).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seg<'m> {
    segment: Segment<'m>,
    occurrence: usize,
}

impl<'m> Seg<'m> {
    /// The segment at `index` (0 = MSH).
    pub fn at(message: &'m Message<'_>, index: usize) -> Option<Seg<'m>> {
        let segment = message.segment_index(index)?;
        let name = segment.name();
        let occurrence = message
            .segments()
            .take(index + 1)
            .filter(|other| other.name() == name)
            .count();
        Some(Seg {
            segment,
            occurrence,
        })
    }

    /// The first segment named `name`.
    pub fn first(message: &'m Message<'_>, name: &str) -> Option<Seg<'m>> {
        Seg::all(message, name).into_iter().next()
    }

    /// Every segment named `name`, in order.
    pub fn all(message: &'m Message<'_>, name: &str) -> Vec<Seg<'m>> {
        message
            .segments()
            .filter(|segment| segment.name() == name)
            .enumerate()
            .map(|(at, segment)| Seg {
                segment,
                occurrence: at + 1,
            })
            .collect()
    }

    /// The segments at `indexes` (as `medulla_hl7v2::groups` lists them).
    pub fn at_all(message: &'m Message<'_>, indexes: &[usize]) -> Vec<Seg<'m>> {
        indexes
            .iter()
            .filter_map(|index| Seg::at(message, *index))
            .collect()
    }

    /// The segment id.
    pub fn name(&self) -> &'m str {
        self.segment.name()
    }

    /// `SEG^occurrence^field`, as ERR-2 wants it.
    pub fn location(&self, field: usize) -> String {
        format!("{}^{}^{field}", self.name(), self.occurrence)
    }

    /// `SEG^occurrence^field^repetition^component`.
    pub fn component_location(&self, field: usize, repetition: usize, component: usize) -> String {
        format!(
            "{}^{}^{field}^{repetition}^{component}",
            self.name(),
            self.occurrence
        )
    }

    /// The non-empty repetitions of field `n` (none when the field is absent).
    pub fn repetitions(&self, n: usize) -> Vec<Parts<'m>> {
        self.segment
            .field(n)
            .map(|field| field.repetitions().map(Parts::Repetition).collect())
            .unwrap_or_default()
    }

    /// The first repetition of field `n`, when it holds anything (`""` counts as nothing).
    pub fn parts(&self, n: usize) -> Option<Parts<'m>> {
        let repetition = self.segment.field(n)?.repetition(1)?;
        let value = repetition.value();
        (!value.is_null() && value.text().is_some()).then_some(Parts::Repetition(repetition))
    }

    /// Component 1 of the first repetition of field `n`: trimmed, `None` when absent, empty
    /// or `""`.
    pub fn text(&self, n: usize) -> Option<String> {
        self.parts(n)?.part(1)
    }

    /// Component `c` of the first repetition of field `n`.
    pub fn component(&self, n: usize, c: usize) -> Option<String> {
        self.parts(n)?.part(c)
    }

    /// Each repetition of field `n` as whole, unescaped text (components not split).
    pub fn repetition_texts(&self, n: usize) -> Vec<String> {
        self.repetitions(n)
            .iter()
            .filter_map(Parts::whole)
            .collect()
    }
}

/// One composite value: the components of a field repetition, or the sub-components of one
/// component (a CX's assigning authority, a TQ's start time, an NDL's name).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parts<'m> {
    /// Parts are components.
    Repetition(Repetition<'m>),
    /// Parts are sub-components.
    Component(Component<'m>),
}

impl<'m> Parts<'m> {
    /// Part `n` (1-based) as trimmed text; `None` when absent, empty or `""`.
    pub fn part(&self, n: usize) -> Option<String> {
        let text = match self {
            Parts::Repetition(repetition) => repetition.get(n)?,
            Parts::Component(component) => component.subcomponent(n).text()?,
        };
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// Part `n` as a composite of its own (component `n` of a repetition, split into its
    /// sub-components). A component has no deeper level: its part `n` is itself when `n` is 1.
    pub fn nested(&self, n: usize) -> Option<Parts<'m>> {
        match self {
            Parts::Repetition(repetition) => repetition.component(n).map(Parts::Component),
            Parts::Component(_) => (n == 1).then_some(*self),
        }
    }

    /// The whole value as unescaped text, delimiters inside it kept (for a component: its
    /// first sub-component).
    pub fn whole(&self) -> Option<String> {
        let value = match self {
            Parts::Repetition(repetition) => repetition.value(),
            Parts::Component(component) => component.value(),
        };
        let text = value.text()?;
        let text = text.trim_end();
        (!text.trim().is_empty()).then(|| text.to_owned())
    }
}
