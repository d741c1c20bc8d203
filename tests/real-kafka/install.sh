#!/usr/bin/env bash
# Resolves Apache Kafka's broker, tools and Java client at one version from
# Maven Central into a cache outside the repository, and prints the folder
# that holds the jars (one class path: DIR/*).
#
#   tests/real-kafka/install.sh 4.4.0        # -> $KAFKA_RS_CACHE/kafka-4.4.0/libs
#
# The cache is $KAFKA_RS_CACHE, else ~/.cache/kafka-rs. A finished install
# leaves a marker file, so a second call costs nothing; an interrupted one is
# redone. Nothing here is committed: jars never enter the repository.
set -euo pipefail
version=${1:?usage: install.sh KAFKA_VERSION}
log4j=2.24.3
# Kafka's own dependencies bring slf4j-api 1.7, which cannot see log4j's
# slf4j2 binding (Kafka would then log nothing): ask for 2.x directly.
slf4j=2.0.17
cache=${KAFKA_RS_CACHE:-$HOME/.cache/kafka-rs}
dir="$cache/kafka-$version"
if [ -f "$dir/.complete" ]; then
    echo "$dir/libs"
    exit 0
fi
command -v mvn >/dev/null || { echo "install.sh: mvn (Maven) is not installed" >&2; exit 1; }
command -v java >/dev/null || { echo "install.sh: java is not installed" >&2; exit 1; }
rm -rf "$dir"
mkdir -p "$dir"
cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-rs</groupId>
  <artifactId>real-kafka-$version</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-clients</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-api</artifactId><version>$slf4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$log4j</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$log4j</version></dependency>
  </dependencies>
</project>
POM
# -q hides Maven's download chatter; a failure still prints its error.
if ! mvn -q -B -f "$dir/pom.xml" dependency:copy-dependencies \
        -DoutputDirectory="$dir/libs" -DincludeScope=runtime >&2; then
    echo "install.sh: Maven could not resolve Apache Kafka $version" >&2
    exit 1
fi
touch "$dir/.complete"
echo "$dir/libs"
