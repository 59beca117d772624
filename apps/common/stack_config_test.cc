// --config and --set, applied one way for every command.
#include "apps/common/stack_config.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/common/cli.hh"

namespace twstack::app {
namespace {

class StackConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("twstack-stack-config-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::filesystem::path dir_;
};

std::string error_of(const KnobOptions& k, std::string_view side = {}, std::vector<std::string> more = {}) {
  try {
    stack_config_from(k, side, more);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST_F(StackConfigFile, FileThenSetsInOrder) {
  const std::string f = write("a.conf", "# sysctl.conf\nnet.ipv4.tcp_tw_reuse = 1\nnet.ipv4.tcp_fin_timeout = 30\n");
  const StackConfig c = stack_config_from({f, {"net.ipv4.tcp_tw_reuse=0", "net.ipv4.tcp_tw_reuse=2"}});
  EXPECT_EQ(c.tcp_tw_reuse, 2);
  EXPECT_EQ(c.tcp_fin_timeout, Duration::seconds(30));
  const StackConfig side = stack_config_from({f, {"net.ipv4.tcp_tw_reuse=0"}}, "client-set", std::vector<std::string>{"net.ipv4.tcp_tw_reuse=1"});
  EXPECT_EQ(side.tcp_tw_reuse, 1);
  EXPECT_EQ(stack_config_from({}), StackConfig{});
}

TEST_F(StackConfigFile, MistakesNameTheOption) {
  EXPECT_NE(error_of({(dir_ / "missing.conf").string(), {}}).find("option --config: "), std::string::npos);
  EXPECT_NE(error_of({dir_.string(), {}}).find("is a directory"), std::string::npos);
  const std::string bad = write("bad.conf", "net.ipv4.tcp_tw_reuse = 7\n");
  EXPECT_NE(error_of({bad, {}}).find("bad.conf:1:"), std::string::npos);
  EXPECT_NE(error_of({{}, {"net.ipv4.tcp_tw_reus=0"}}).find("option --set: "), std::string::npos);
  EXPECT_NE(error_of({}, "server-set", {"twstack.mss=1"}).find("option --server-set: "), std::string::npos);
  EXPECT_NE(error_of({{}, {"twstack.rto_min=5000", "twstack.rto_initial=1000"}}).find("rto"), std::string::npos);
}

}  // namespace
}  // namespace twstack::app
