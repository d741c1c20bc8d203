// A peer built on Apache Kafka's Java client, for the real-Kafka suite
// (tests/tests/real_kafka.rs compiles it with javac against kafka-clients).
// It prints tab-separated lines on stdout that the Rust side parses:
//
//   produce BOOTSTRAP TOPIC N CODEC ACKS IDEMPOTENT
//       sends j-0..j-(N-1), key k(i % 7), header i=<i>; one line per record:
//       acked <i> <partition> <offset>
//   consume BOOTSTRAP TOPIC N TIMEOUT_MS [ISOLATION]
//       reads every partition from the beginning until N records came
//       (isolation.level, default read_uncommitted), then 500 ms more:
//       record <partition> <offset> <key> <value> <header i or ->
//   txproduce BOOTSTRAP TOPIC TRANSACTIONAL_ID N
//       a transactional producer: j-0..j-(N-1), five records per
//       transaction, every third transaction aborted; per record:
//       committed <value>   or   aborted <value>
//   group BOOTSTRAP TOPIC GROUP ASSIGNOR MAX_MS IDLE_MS
//       a group member (range or roundrobin), committing after each poll;
//       ends once it held an assignment and saw nothing for IDLE_MS:
//       assigned <p,p,...>   record <partition> <offset> <value>
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaPeer {
    public static void main(String[] a) throws Exception {
        switch (a[0]) {
            case "produce" -> produce(a[1], a[2], Integer.parseInt(a[3]), a[4], a[5], a[6]);
            case "consume" -> consume(a[1], a[2], Integer.parseInt(a[3]), Long.parseLong(a[4]),
                    a.length > 5 ? a[5] : "read_uncommitted");
            case "txproduce" -> txproduce(a[1], a[2], a[3], Integer.parseInt(a[4]));
            case "group" -> group(a[1], a[2], a[3], a[4], Long.parseLong(a[5]), Long.parseLong(a[6]));
            default -> throw new IllegalArgumentException(a[0]);
        }
    }

    static void produce(String bootstrap, String topic, int n, String codec, String acks, String idempotent)
            throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("compression.type", codec);
        p.put("acks", acks);
        p.put("enable.idempotence", idempotent);
        p.put("linger.ms", "5");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ProducerRecord<String, String> r = new ProducerRecord<>(topic, "k" + (i % 7), "j-" + i);
                r.headers().add("i", Integer.toString(i).getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(r));
            }
            producer.flush();
            for (int i = 0; i < n; i++) {
                RecordMetadata m = sent.get(i).get();
                System.out.println("acked\t" + i + "\t" + m.partition() + "\t" + m.offset());
            }
        }
    }

    static Properties consumerProps(String bootstrap) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.put("auto.offset.reset", "earliest");
        return p;
    }

    static void txproduce(String bootstrap, String topic, String txnId, int n) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("transactional.id", txnId);
        p.put("linger.ms", "5");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            producer.initTransactions();
            for (int start = 0, txn = 0; start < n; start += 5, txn++) {
                producer.beginTransaction();
                List<String> values = new ArrayList<>();
                for (int i = start; i < Math.min(n, start + 5); i++) {
                    producer.send(new ProducerRecord<>(topic, "k" + (i % 7), "j-" + i));
                    values.add("j-" + i);
                }
                boolean abort = txn % 3 == 2;
                if (abort) {
                    producer.flush();
                    producer.abortTransaction();
                } else {
                    producer.commitTransaction();
                }
                for (String v : values) {
                    System.out.println((abort ? "aborted\t" : "committed\t") + v);
                }
            }
        }
    }

    static void consume(String bootstrap, String topic, int n, long timeoutMs, String isolation) {
        Properties props = consumerProps(bootstrap);
        props.put("isolation.level", isolation);
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            c.partitionsFor(topic).forEach(i -> tps.add(new TopicPartition(topic, i.partition())));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + timeoutMs;
            int got = 0;
            long extra = Long.MAX_VALUE;
            while (System.currentTimeMillis() < Math.min(deadline, extra)) {
                if (got >= n && extra == Long.MAX_VALUE) {
                    extra = System.currentTimeMillis() + 500;
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    Header h = r.headers().lastHeader("i");
                    String hv = h == null ? "-" : new String(h.value(), StandardCharsets.UTF_8);
                    System.out.println("record\t" + r.partition() + "\t" + r.offset() + "\t" + r.key() + "\t"
                            + r.value() + "\t" + hv);
                    got++;
                }
            }
        }
    }

    static void group(String bootstrap, String topic, String group, String assignor, long maxMs, long idleMs) {
        Properties p = consumerProps(bootstrap);
        p.put("group.id", group);
        p.put("enable.auto.commit", "false");
        p.put("partition.assignment.strategy", assignor.equals("range")
                ? "org.apache.kafka.clients.consumer.RangeAssignor"
                : "org.apache.kafka.clients.consumer.RoundRobinAssignor");
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            final boolean[] assigned = {false};
            c.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> parts) {}

                public void onPartitionsAssigned(Collection<TopicPartition> parts) {
                    StringJoiner j = new StringJoiner(",");
                    parts.stream().map(TopicPartition::partition).sorted().forEach(x -> j.add(x.toString()));
                    System.out.println("assigned\t" + j);
                    System.out.flush();
                    assigned[0] = true;
                }
            });
            long start = System.currentTimeMillis();
            long lastRecord = start;
            while (System.currentTimeMillis() - start < maxMs) {
                ConsumerRecords<String, String> rs = c.poll(Duration.ofMillis(100));
                for (ConsumerRecord<String, String> r : rs) {
                    System.out.println("record\t" + r.partition() + "\t" + r.offset() + "\t" + r.value());
                }
                if (!rs.isEmpty()) {
                    c.commitSync();
                    lastRecord = System.currentTimeMillis();
                }
                System.out.flush();
                if (assigned[0] && System.currentTimeMillis() - lastRecord > idleMs) {
                    break;
                }
            }
        }
    }
}
