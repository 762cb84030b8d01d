// `credproxy store migrate` and `credproxy store copy` (SPEC §5, §8) through
// the real binary against a real PostgreSQL: migrate is idempotent, a schema
// newer than the binary is refused by the CLI and serve alike, and a vault
// moves file -> postgres -> file with its credentials (secrets included),
// tokens and CA, only into an empty destination, all or nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tests/support/credproxy_instance.hpp"
#include "tests/support/fake_upstream.hpp"
#include "tests/support/postgres_client.hpp"
#include "tests/support/postgres_cluster.hpp"
#include "tests/support/test_store.hpp"

namespace credproxy::test {
namespace {

const std::string canary = "CANARY-store-copy-" + random_hex(6);

std::string quoted(const std::string& s) { return boost::json::serialize(boost::json::value(s)); }

// One master key, a vault file and a database, with a configuration for
// each backend (the same key file in both, as store copy requires).
class StoreCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    CREDPROXY_SKIP_WITHOUT_POSTGRES();
    dsn_ = fresh_postgres_test_database();
    write_config(file_config(), dir_ / "v.vault", "");
    write_config(postgres_config(), dir_ / "unused.vault", dsn_);
  }

  std::filesystem::path file_config() const { return dir_ / "file.yaml"; }
  std::filesystem::path postgres_config() const { return dir_ / "postgres.yaml"; }
  std::filesystem::path key_file() const { return dir_ / "v.key"; }

  // A configuration on the shared key: the file backend at `vault`, or
  // postgres at `dsn` when it is not empty.
  void write_config(const std::filesystem::path& config, const std::filesystem::path& vault,
                    const std::string& dsn) const {
    // Ephemeral listeners: a serve that wrongly starts must not collide.
    std::string yaml = "listen: 127.0.0.1:0\nadmin_listen: \"\"\nhealth_listen: \"\"\n";
    yaml += "vault:\n  path: " + quoted(vault.string()) + "\n  key_file: " + quoted(key_file().string()) + "\n";
    if (!dsn.empty()) yaml += "store:\n  backend: postgres\n  postgres:\n    dsn: " + quoted(dsn) + "\n";
    write_file(config, yaml);
  }

  run_result run(const std::filesystem::path& config, std::vector<std::string> args,
                 const std::string& stdin_data = {}) const {
    std::vector<std::string> argv = {credproxy_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--config", config.string()});
    return credproxy::test::run(argv, stdin_data, std::chrono::seconds(30));
  }

  std::string ok(const std::filesystem::path& config, std::vector<std::string> args,
                 const std::string& stdin_data = {}) const {
    const auto r = run(config, args, stdin_data);
    EXPECT_EQ(r.status.code, 0) << args[0] << " " << args[1] << "\nstderr: " << r.err;
    return r.out;
  }

  // The source vault: a credential bound to `host`, a proxy and an admin token.
  void fill_file_vault(const std::string& host) const {
    ok(file_config(), {"vault", "init"});
    ok(file_config(), {"cred", "add", "--solution", "default", "--key", "acme.api", "--json", "-"},
       api_key_doc(canary, host));
    ok(file_config(), {"solution", "token", "create", "default", "--description", "carried"});
    ok(file_config(), {"admin", "token", "create", "--description", "ops"});
  }

  // What must be the same on both sides of a copy: every listing and the CA.
  std::vector<std::string> listing(const std::filesystem::path& config) const {
    return {ok(config, {"cred", "list", "--solution", "default", "--json"}),
            ok(config, {"solution", "token", "list", "default", "--json"}),
            ok(config, {"admin", "token", "list", "--json"}), ok(config, {"ca", "export"})};
  }

  // `store copy` from the source vault file into the database.
  std::vector<std::string> copy_from_file() const {
    return {"store", "copy", "--from", "file:" + (dir_ / "v.vault").string(), "--to", "postgres"};
  }

  // The database's rows as the server holds them (sealed bytes as md5).
  std::string database_rows(const std::string& dsn) const {
    const auto r = pg_exec(dsn, "SELECT string_agg(name || ':' || version || ':' || md5(sealed), ',' ORDER BY name) "
                                "FROM credproxy_rows");
    EXPECT_TRUE(r.ok) << r.error;
    return r.value();
  }

  temp_dir dir_;
  std::string dsn_;
};

TEST_F(StoreCommands, MigrateTwiceTheSecondHasNothingToDo) {
  const auto first = ok(postgres_config(), {"store", "migrate"});
  EXPECT_NE(first.find("from version 0 to 1"), std::string::npos) << first;
  const auto second = ok(postgres_config(), {"store", "migrate"});
  EXPECT_NE(second.find("nothing to do"), std::string::npos) << second;
  ok(postgres_config(), {"vault", "init"});
  EXPECT_NE(ok(postgres_config(), {"store", "migrate"}).find("nothing to do"), std::string::npos);
}

TEST_F(StoreCommands, AnUnknownSchemaVersionIsRefusedByTheCliAndServe) {
  ok(postgres_config(), {"store", "migrate"});
  ok(postgres_config(), {"vault", "init"});
  ASSERT_TRUE(pg_exec(dsn_, "UPDATE credproxy_schema SET version = 99").ok);

  const auto cli = run(postgres_config(), {"solution", "token", "list", "default"});
  EXPECT_EQ(cli.status.code, 2) << cli.out << cli.err;
  EXPECT_NE(cli.err.find("version 99"), std::string::npos) << cli.err;
  EXPECT_NE(cli.err.find("upgrade credproxy"), std::string::npos) << cli.err;

  const auto serve = run(postgres_config(), {"serve"});
  EXPECT_FALSE(serve.status.signaled) << "serve did not refuse: " << serve.status.describe();
  EXPECT_EQ(serve.status.code, 2) << serve.out << serve.err;
  EXPECT_NE((serve.out + serve.err).find("upgrade credproxy"), std::string::npos) << serve.out << serve.err;

  const auto migrate = run(postgres_config(), {"store", "migrate"});
  EXPECT_EQ(migrate.status.code, 2) << migrate.out << migrate.err;
  EXPECT_NE(migrate.err.find("upgrade credproxy"), std::string::npos) << migrate.err;
}

// file -> postgres -> file -> another database, served: every step keeps
// the listings and the CA, and the last one still injects the secret.
TEST_F(StoreCommands, CopyFileToPostgresAndBackCarriesCredentialsTokensAndCa) {
  fake_upstream upstream;
  fill_file_vault(upstream.authority());
  const auto source = listing(file_config());
  ok(postgres_config(), {"store", "migrate"});

  const auto to_pg = ok(postgres_config(), copy_from_file());
  EXPECT_NE(to_pg.find("copied the vault"), std::string::npos) << to_pg;
  EXPECT_EQ(listing(postgres_config()), source);
  EXPECT_EQ(database_rows(dsn_).find(canary), std::string::npos);

  const auto back_path = dir_ / "back.vault";
  ok(postgres_config(), {"store", "copy", "--from", "postgres", "--to", "file:" + back_path.string()});
  write_config(dir_ / "back.yaml", back_path, "");
  EXPECT_EQ(listing(dir_ / "back.yaml"), source);

  const auto second_dsn = fresh_postgres_test_database();
  write_config(dir_ / "second.yaml", dir_ / "unused.vault", second_dsn);
  ok(dir_ / "second.yaml", {"store", "migrate"});
  ok(dir_ / "second.yaml", {"store", "copy", "--from", "file:" + back_path.string(), "--to", "postgres"});
  credproxy_instance served(instance_options().joining_postgres(second_dsn, key_file()));
  const auto r = served.curl().get(upstream.url("/q"), {"-H", "X-Key: {{cred:acme.api}}"});
  ASSERT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.only().status, 200u);
  ASSERT_TRUE(upstream.wait_for_requests(1));
  EXPECT_EQ(upstream.requests()[0].header("X-Key"), canary);
}

TEST_F(StoreCommands, CopyRefusesANonEmptyDestinationAndLeavesItUnchanged) {
  fill_file_vault("api.example.com");
  ok(postgres_config(), {"store", "migrate"});
  ok(postgres_config(), {"vault", "init"});
  ok(postgres_config(), {"solution", "token", "create", "default", "--description", "already here"});
  const auto rows_before = database_rows(dsn_);
  const auto listing_before = listing(postgres_config());

  const auto into_pg = run(postgres_config(), copy_from_file());
  EXPECT_EQ(into_pg.status.code, 2) << into_pg.out << into_pg.err;
  EXPECT_NE(into_pg.err.find("already holds a vault"), std::string::npos) << into_pg.err;
  EXPECT_EQ(database_rows(dsn_), rows_before);
  EXPECT_EQ(listing(postgres_config()), listing_before);

  const auto file_before = read_file(dir_ / "v.vault");
  const auto into_file =
      run(postgres_config(), {"store", "copy", "--from", "postgres", "--to", "file:" + (dir_ / "v.vault").string()});
  EXPECT_EQ(into_file.status.code, 2) << into_file.out << into_file.err;
  EXPECT_NE(into_file.err.find("already holds a vault"), std::string::npos) << into_file.err;
  EXPECT_EQ(read_file(dir_ / "v.vault"), file_before);
}

// The copy is one transaction: a commit refused after every row was
// written (a deferred trigger) leaves the empty destination as it was,
// and the same copy succeeds once the obstacle is gone.
TEST_F(StoreCommands, AFailedCopyLeavesTheDestinationAsItWas) {
  fill_file_vault("api.example.com");
  ok(postgres_config(), {"store", "migrate"});
  ok(postgres_config(), {"vault", "init"});
  const auto rows_before = database_rows(dsn_);
  const auto listing_before = listing(postgres_config());
  const auto refuse = pg_exec(dsn_, R"sql(
    CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
    CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT OR UPDATE OR DELETE ON credproxy_rows
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
  )sql");
  ASSERT_TRUE(refuse.ok) << refuse.error;

  const auto copy = copy_from_file();
  const auto failed = run(postgres_config(), copy);
  EXPECT_EQ(failed.status.code, 2) << failed.out << failed.err;
  EXPECT_EQ(database_rows(dsn_), rows_before);
  EXPECT_EQ(listing(postgres_config()), listing_before);

  ASSERT_TRUE(pg_exec(dsn_, "DROP TRIGGER refuse_commit ON credproxy_rows").ok);
  ok(postgres_config(), copy);
  EXPECT_EQ(listing(postgres_config()), listing(file_config()));
}

}  // namespace
}  // namespace credproxy::test
