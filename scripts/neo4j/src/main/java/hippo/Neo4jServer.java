package hippo;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.server.CommunityBootstrapper;

/**
 * Runs a Neo4j 5 community server in this JVM for hippo's tests and local use.
 *
 * <p>Usage: {@code HIPPO_NEO4J_PASSWORD=... Neo4jServer HOME BOLT_PORT HTTP_PORT} (the password
 * comes from the environment, never the command line, which {@code ps} shows to every user).
 * Listens on 127.0.0.1 only, with authentication on; sets the password of user {@code neo4j},
 * then writes {@code HOME/ready}
 * and blocks until the process gets SIGTERM. The Browser is served at {@code /browser/} when its
 * jar is on the class path; procedures (Graph Data Science, {@code gds.*}) are registered from the
 * jars in the folder named by the system property {@code hippo.neo4j.plugins}.
 */
public final class Neo4jServer {
    private static final String PASSWORD_VARIABLE = "HIPPO_NEO4J_PASSWORD";
    private static final String PLUGINS_PROPERTY = "hippo.neo4j.plugins";

    private Neo4jServer() {}

    public static void main(String[] args) throws Exception {
        String password = System.getenv(PASSWORD_VARIABLE);
        if (args.length != 3 || password == null || password.isEmpty()) {
            System.err.println("usage: " + PASSWORD_VARIABLE + "=... Neo4jServer HOME BOLT_PORT HTTP_PORT");
            System.exit(64);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Path ready = home.resolve("ready");
        Files.deleteIfExists(ready);
        Map<String, String> config = new HashMap<>(Map.ofEntries(
                Map.entry("server.default_listen_address", "127.0.0.1"),
                Map.entry("server.default_advertised_address", "127.0.0.1"),
                Map.entry("server.bolt.listen_address", "127.0.0.1:" + args[1]),
                Map.entry("server.bolt.advertised_address", "127.0.0.1:" + args[1]),
                Map.entry("server.http.listen_address", "127.0.0.1:" + args[2]),
                Map.entry("server.http.advertised_address", "127.0.0.1:" + args[2]),
                Map.entry("server.https.enabled", "false"),
                Map.entry("dbms.security.auth_enabled", "true"),
                Map.entry("server.directories.data", home.resolve("data").toString()),
                Map.entry("server.directories.logs", home.resolve("logs").toString()),
                Map.entry("server.directories.run", home.resolve("run").toString()),
                Map.entry("server.memory.pagecache.size", "64m"),
                Map.entry("dbms.memory.transaction.total.max", "256m"),
                Map.entry("db.tx_log.rotation.retention_policy", "2 files"),
                Map.entry("dbms.security.procedures.unrestricted", "gds.*"),
                Map.entry("dbms.usage_report.enabled", "false")));
        String plugins = System.getProperty(PLUGINS_PROPERTY);
        if (plugins != null) {
            config.put("server.directories.plugins", plugins);
        }
        CommunityBootstrapper server = new CommunityBootstrapper();
        int status = server.start(home, config);
        if (status != 0) {
            System.err.println("neo4j: server failed to start (status " + status + "); see " + home.resolve("logs"));
            System.exit(status);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(server::stop));
        try {
            setPassword(server, password);
        } catch (RuntimeException e) {
            System.err.println("neo4j: could not set the password of user neo4j: " + e.getMessage());
            System.exit(1);
        }
        Files.writeString(ready, ProcessHandle.current().pid() + "\n");
        System.out.println("neo4j: ready on bolt://127.0.0.1:" + args[1] + " and http://127.0.0.1:" + args[2]);
        Thread.currentThread().join();
    }

    /** Sets user neo4j's password; a restart with the password it already has is fine. */
    private static void setPassword(CommunityBootstrapper server, String password) {
        try {
            server.getDatabaseManagementService()
                    .database("system")
                    .executeTransactionally(
                            "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                            Map.of("password", password));
        } catch (QueryExecutionException e) {
            if (!e.getMessage().contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }
}
