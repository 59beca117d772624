// Running a program without a shell: exit status, signals, a missing
// program, and arguments that a shell would have interpreted.
#include "apps/common/spawn.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace twstack::app {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(RunProgram, ExitStatusAndSignal) {
  EXPECT_TRUE(run_program({"true"}).ok());
  const ProgramResult f = run_program({"false"});
  EXPECT_FALSE(f.ok());
  EXPECT_EQ(f.exit_status, 1);
  EXPECT_EQ(f.describe(), "exited 1");
  const ProgramResult k = run_program({"sh", "-c", "kill -9 $$"});
  EXPECT_EQ(k.signal, 9);
  EXPECT_EQ(k.describe(), "killed by signal 9");
}

TEST(RunProgram, MissingProgram) {
  const ProgramResult r = run_program({"twstack-no-such-program"});
  EXPECT_EQ(r.spawn_error, ENOENT);
  EXPECT_EQ(r.describe(), "cannot start: No such file or directory");
  EXPECT_EQ(run_program({}).spawn_error, EINVAL);
}

TEST(RunProgram, ArgumentsAreNeverInterpreted) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("twstack-spawn-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string log = (dir / "out.log").string();
  const std::string arg = "it's $(touch " + (dir / "pwned").string() + ") `id` ; & | > x";
  ASSERT_TRUE(run_program({"printf", "%s\\n", arg}, log).ok());
  EXPECT_EQ(read(log), arg + "\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "pwned"));
  EXPECT_FALSE(std::filesystem::exists("x"));
  // stderr goes to the log too.
  ASSERT_FALSE(run_program({"ls", (dir / "missing").string()}, log).ok());
  EXPECT_NE(read(log).find("missing"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace twstack::app
