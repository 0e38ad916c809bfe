package kafka;

/**
 * The broker of packaging/container-check.sh: a real JVM whose main class is
 * kafka.Kafka (what the agent's default `jvm_match` looks for). It allocates
 * for BUSY seconds, so G1 writes young collections to its GC log, then sleeps
 * until it is stopped.
 *
 * usage: kafka.Kafka BUSY_SECONDS
 */
public class Kafka {
    public static void main(String[] args) throws Exception {
        long busyNanos = Long.parseLong(args[0]) * 1_000_000_000L;
        long start = System.nanoTime();
        byte[][] kept = new byte[1024][];
        long sum = 0;
        for (int i = 0; System.nanoTime() - start < busyNanos; i++) {
            byte[] b = new byte[256 + (i % 8192)];
            sum += b.length;
            // Keep a few alive for a while so some objects survive a collection.
            if (i % 32 == 0) {
                kept[(i / 32) % kept.length] = b;
            }
        }
        System.out.println("busy phase done " + (sum & 1));
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
