//! What `kafka-consumer-groups` (Kafka's `ConsumerGroupCommand`) prints:
//! the offsets table of `--describe`, the `--members` and `--state` views,
//! `--list --state`, and the plan of `--reset-offsets`; and the
//! `--by-duration` argument, a `java.time.Duration`. The binary talks to
//! the cluster; the layouts live here, where they can be checked alone.
//!
//! Kafka builds each table with `printf` formats whose first column widths
//! grow with the content (at least 15), each line starting with a newline
//! (so the output opens with an empty line), and a final newline.

use kafka_client::TopicPartition;

use crate::jvm;

/// What Kafka prints in a column without a value.
pub const MISSING: &str = "-";

/// One row of the `--describe` offsets table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetRow {
    /// Topic (None for a member without partitions).
    pub topic: Option<String>,
    /// Partition.
    pub partition: Option<i32>,
    /// The committed offset.
    pub current_offset: Option<i64>,
    /// The end of the partition.
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - current_offset`.
    pub lag: Option<i64>,
    /// The owning member, or `-`.
    pub consumer_id: String,
    /// Its host, or `-`.
    pub host: String,
    /// Its client id, or `-`.
    pub client_id: String,
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| MISSING.to_string(), T::to_string)
}

fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

/// The offsets table (`printOffsets`): GROUP, TOPIC, PARTITION,
/// CURRENT-OFFSET, LOG-END-OFFSET, LAG, CONSUMER-ID, HOST, CLIENT-ID.
pub fn offsets_table(group: &str, rows: &[OffsetRow]) -> String {
    let width = |f: &dyn Fn(&OffsetRow) -> usize, header_min: usize| rows.iter().map(f).fold(header_min, usize::max);
    let g = group.chars().count().max(15);
    let t = width(&|r| r.topic.as_deref().unwrap_or(MISSING).chars().count(), 15);
    let c = width(&|r| r.consumer_id.chars().count(), 15);
    let h = width(&|r| r.host.chars().count(), 15);
    let line = |cells: [&str; 9]| {
        format!(
            "\n{} {} {} {} {} {} {} {} {}",
            pad(cells[0], g),
            pad(cells[1], t),
            pad(cells[2], 10),
            pad(cells[3], 15),
            pad(cells[4], 15),
            pad(cells[5], 15),
            pad(cells[6], c),
            pad(cells[7], h),
            cells[8]
        )
    };
    let mut out = line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in rows {
        out.push_str(&line([
            group,
            r.topic.as_deref().unwrap_or(MISSING),
            &opt(&r.partition),
            &opt(&r.current_offset),
            &opt(&r.log_end_offset),
            &opt(&r.lag),
            &r.consumer_id,
            &r.host,
            &r.client_id,
        ]));
    }
    out.push('\n');
    out
}

/// One member of the `--members` view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// Member id.
    pub consumer_id: String,
    /// Its `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// Host.
    pub host: String,
    /// Client id.
    pub client_id: String,
    /// How many partitions it is assigned.
    pub partitions: usize,
}

/// The `--members` view (`printMembers`); the GROUP-INSTANCE-ID column
/// appears only when some member is static. Every line ends with a space,
/// as Kafka's format does.
pub fn members_table(group: &str, members: &[MemberRow]) -> String {
    let width = |f: &dyn Fn(&MemberRow) -> usize, min: usize| members.iter().map(f).fold(min, usize::max);
    let g = group.chars().count().max(15);
    let c = width(&|m| m.consumer_id.chars().count(), 15);
    let i = width(&|m| m.group_instance_id.as_deref().unwrap_or("").chars().count(), 17);
    let h = width(&|m| m.host.chars().count(), 15);
    let cl = width(&|m| m.client_id.chars().count(), 15);
    let with_instance = members.iter().any(|m| m.group_instance_id.as_deref().is_some_and(|s| !s.is_empty()));
    let line = |first: &str, consumer: &str, instance: &str, host: &str, client: &str, count: &str| {
        let mut s = format!("{} {} ", pad(first, g), pad(consumer, c));
        if with_instance {
            s.push_str(&format!("{} ", pad(instance, i)));
        }
        s.push_str(&format!("{} {} {} \n", pad(host, h), pad(client, cl), pad(count, 15)));
        s
    };
    let mut out = String::from("\n");
    out.push_str(&line("GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS"));
    for m in members {
        out.push_str(&line(
            group,
            &m.consumer_id,
            m.group_instance_id.as_deref().unwrap_or(""),
            &m.host,
            &m.client_id,
            &m.partitions.to_string(),
        ));
    }
    out
}

/// The `--state` view (`printStates`): the coordinator as `host:port  (id)`.
pub fn state_table(group: &str, coordinator: &str, assignor: &str, state: &str, members: usize) -> String {
    let g = group.chars().count().max(15);
    let c = coordinator.chars().count().max(25);
    let assignor = if assignor.is_empty() { MISSING } else { assignor };
    let line = |a: &str, b: &str, s1: &str, s2: &str, n: &str| {
        format!("\n{} {} {} {} {n}", pad(a, g), pad(b, c), pad(s1, 20), pad(s2, 20))
    };
    let mut out = line("GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS");
    out.push_str(&line(group, coordinator, assignor, state, &members.to_string()));
    out.push('\n');
    out
}

/// `--list --state`: GROUP (ten characters wider than the longest id, at
/// least 25) and STATE, each padded; no leading empty line here.
pub fn list_with_state(groups: &[(String, String)]) -> String {
    let g = groups.iter().map(|(id, _)| id.chars().count().max(15)).max().unwrap_or(15) + 10;
    let mut out = format!("{} {}\n", pad("GROUP", g), pad("STATE", 20));
    for (id, state) in groups {
        out.push_str(&format!("{} {}\n", pad(id, g), pad(state, 20)));
    }
    out
}

/// The plan `--reset-offsets` prints (`printOffsetsToReset`): GROUP, TOPIC,
/// PARTITION, NEW-OFFSET in fixed widths, a group's partitions in the
/// order Java's `HashMap` of them iterates. Nothing but the final newline
/// when no group has a plan.
pub fn reset_plan_table(plans: &[(String, Vec<(TopicPartition, i64)>)]) -> String {
    let line =
        |g: &str, t: &str, p: &str, o: &str| format!("\n{} {} {} {}", pad(g, 30), pad(t, 30), pad(p, 10), pad(o, 15));
    let mut out = String::new();
    if !plans.is_empty() {
        out.push_str(&line("GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"));
    }
    for (group, plan) in plans {
        let keyed = plan.iter().map(|(tp, o)| (jvm::topic_partition_hash(&tp.topic, tp.partition), (tp, *o))).collect();
        for (tp, offset) in jvm::hash_map_order(keyed, None) {
            out.push_str(&line(group, &tp.topic, &tp.partition.to_string(), &offset.to_string()));
        }
    }
    out.push('\n');
    out
}

/// `java.time.Duration.parse` for `--by-duration`: `PnDTnHnMn.nS`, any
/// part optional (but at least one), each number possibly signed, the
/// whole possibly negated; case-insensitive. Returns milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let upper = text.to_ascii_uppercase();
    let (negate, rest) = match upper.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, upper.strip_prefix('+').unwrap_or(&upper)),
    };
    let rest = rest.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return None;
            }
            (d, Some(t))
        }
        None => (rest, None),
    };
    let mut total: f64 = 0.0;
    let mut parts = 0;
    let mut take = |s: &str, units: &[(char, f64)]| -> Option<()> {
        let mut s = s;
        let mut next_unit = 0;
        while !s.is_empty() {
            let end = s.find(|c: char| c.is_ascii_alphabetic())?;
            let (num, unit) = (&s[..end], s[end..].chars().next()?);
            let at = units[next_unit..].iter().position(|(u, _)| *u == unit)? + next_unit;
            let fractional_ok = unit == 'S';
            if num.is_empty() || (!fractional_ok && num.contains('.')) {
                return None;
            }
            let value: f64 = num.parse().ok()?;
            total += value * units[at].1;
            parts += 1;
            next_unit = at + 1;
            s = &s[end + 1..];
        }
        Some(())
    };
    take(days, &[('D', 86_400_000.0)])?;
    if let Some(t) = time {
        take(t, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)])?;
    }
    if parts == 0 {
        return None;
    }
    let ms = total.round();
    if !ms.is_finite() || ms.abs() > i64::MAX as f64 {
        return None;
    }
    Some(if negate { -(ms as i64) } else { ms as i64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(topic: &str, p: i32, cur: Option<i64>, end: i64, owner: Option<(&str, &str, &str)>) -> OffsetRow {
        let (c, h, cl) = owner.unwrap_or((MISSING, MISSING, MISSING));
        OffsetRow {
            topic: Some(topic.into()),
            partition: Some(p),
            current_offset: cur,
            log_end_offset: Some(end),
            lag: cur.map(|c| end - c),
            consumer_id: c.into(),
            host: h.into(),
            client_id: cl.into(),
        }
    }

    #[test]
    fn offsets_table_layout() {
        let rows =
            [row("orders", 0, Some(3), 5, Some(("c1-0123", "/127.0.0.1", "c1"))), row("orders", 1, None, 4, None)];
        let t = offsets_table("g", &rows);
        let expected = "\n\
GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID\n\
g               orders          0          3               5               2               c1-0123         /127.0.0.1      c1\n\
g               orders          1          -               4               -               -               -               -\n";
        assert_eq!(t, expected);
    }

    #[test]
    fn other_views() {
        let m = members_table(
            "g",
            &[MemberRow {
                consumer_id: "c".into(),
                group_instance_id: None,
                host: "/h".into(),
                client_id: "cl".into(),
                partitions: 2,
            }],
        );
        assert_eq!(
            m,
            "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n\
             g               c               /h              cl              2               \n"
        );
        let s = state_table("g", "127.0.0.1:9092  (1)", "range", "Stable", 3);
        assert_eq!(
            s,
            "\nGROUP           COORDINATOR (ID)          ASSIGNMENT-STRATEGY  STATE                #MEMBERS\
             \ng               127.0.0.1:9092  (1)       range                Stable               3\n"
        );
        assert!(list_with_state(&[("g".into(), "Empty".into())]).starts_with(&format!("{:<25} STATE", "GROUP")));
    }

    #[test]
    fn reset_plan_layout() {
        assert_eq!(reset_plan_table(&[]), "\n");
        let plan = vec![(TopicPartition::new("t", 1), 7), (TopicPartition::new("t", 0), 5)];
        let out = reset_plan_table(&[("g".into(), plan)]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "");
        assert_eq!(lines[1], format!("{:<30} {:<30} {:<10} {:<15}", "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"));
        // TopicPartition hashes of t-0 and t-1 are 1077 and 1108: buckets 5 and 4.
        assert_eq!(lines[2], format!("{:<30} {:<30} {:<10} {:<15}", "g", "t", "1", "7"));
        assert_eq!(lines[3], format!("{:<30} {:<30} {:<10} {:<15}", "g", "t", "0", "5"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("PT1H"), Some(3_600_000));
        assert_eq!(parse_duration("P1DT2H3M4.5S"), Some(93_784_500));
        assert_eq!(parse_duration("pt-30s"), Some(-30_000));
        assert_eq!(parse_duration("-PT1M"), Some(-60_000));
        for bad in ["", "P", "PT", "1H", "PT1", "PT1M1H", "P1.5D", "PTxS"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
