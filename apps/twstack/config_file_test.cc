// --config files: read, parsed with the file's path as the origin of each
// message, and refused as a whole when missing or a directory.
#include "apps/twstack/config_file.hh"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <system_error>

namespace twstack::app {
namespace {

// The message, or "" when there is none.
std::string message(const std::optional<std::string>& err) { return err.value_or(""); }

class ConfigFile : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "twstack-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFile, ReadsTheFile) {
  const std::string path = write("ok.conf",
                                 "# comment\n"
                                 "net.ipv4.tcp_tw_reuse = 1\n"
                                 "twstack.tcp_timewait_len = 2.5");  // no final \n
  StackConfig c;
  ASSERT_EQ(load_config_file(path, &c), std::nullopt);
  EXPECT_EQ(c.tcp_tw_reuse, 1);
  EXPECT_EQ(c.tcp_timewait_len, Duration::millis(2500));
}

TEST_F(ConfigFile, ErrorsCarryThePathAndChangeNothing) {
  const std::string path = write("bad.conf",
                                 "net.ipv4.tcp_tw_reuse = 1\n"
                                 "net.ipv4.tcp_tw_reuse = 7\n");
  StackConfig c;
  EXPECT_NE(message(load_config_file(path, &c))
                .find(path + ":2: net.ipv4.tcp_tw_reuse: invalid value '7'"),
            std::string::npos);
  EXPECT_EQ(c, StackConfig{});
}

TEST_F(ConfigFile, MissingFileAndDirectory) {
  StackConfig c;
  const std::string missing = (dir_ / "nope.conf").string();
  EXPECT_EQ(message(load_config_file(missing, &c)).find(missing + ": cannot open"), 0u);
  EXPECT_EQ(message(load_config_file(dir_.string(), &c)), dir_.string() + ": is a directory");
  EXPECT_EQ(c, StackConfig{});
}

TEST_F(ConfigFile, EmptyFileIsFine) {
  StackConfig c;
  EXPECT_EQ(load_config_file(write("empty.conf", ""), &c), std::nullopt);
  EXPECT_EQ(c, StackConfig{});
}

}  // namespace
}  // namespace twstack::app
