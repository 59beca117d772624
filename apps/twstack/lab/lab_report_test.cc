// The report folder, written where the user said, whatever the name: one
// with a quote, a command substitution and a space gets the report and the
// plot, and nothing else happens (gnuplot runs without a shell).
#include "apps/twstack/lab/lab_report.hh"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace twstack::app {
namespace {

namespace fs = std::filesystem;

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "";
  while (!rest.empty()) {
    const std::size_t colon = rest.find(':');
    const fs::path p = fs::path(std::string(rest.substr(0, colon))) / program;
    if (::access(p.c_str(), X_OK) == 0) return true;
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
  }
  return false;
}

std::vector<LabResult> one_run() {
  std::vector<LabScenario> v;
  EXPECT_FALSE(parse_lab_scenarios("[tiny]\ntitle = it's short\nrate = 50\nduration = 2\n", "t.lab", &v));
  LabResult r;
  r.scenario = v.at(0);
  r.prediction = predict(r.scenario);
  r.run = run_lab_sim(r.scenario, 1, {});
  r.verdict = judge(r.scenario, r.prediction, r.run.m);
  return {r};
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

TEST(LabReport, AnyFolderNameAndNoShell) {
  const fs::path base = fs::temp_directory_path() / ("twstack-lab-report-test-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base);
  // Had a shell seen it, the $(...) would have made `pwned` in the current
  // folder: make that the base folder, to look there.
  const fs::path cwd = fs::current_path();
  fs::current_path(base);
  const std::string name = "it's $(touch pwned) a report";
  const fs::path out = base / name;
  const bool gnuplot = on_path("gnuplot");

  LabMode mode;
  mode.sim = true;
  const std::string note = write_lab_report(out.string(), one_run(), mode);

  std::set<std::string> expected = {"summary.json", "tiny.csv", "tiny.json", "lab.gp"};
  if (gnuplot) {
    EXPECT_EQ(note, "");
    expected.insert({"lab.png", "lab.gp.log"});
    std::ifstream png(out / "lab.png", std::ios::binary);
    char magic[8] = {};
    png.read(magic, sizeof magic);
    EXPECT_EQ(std::string(magic, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  } else {
    EXPECT_NE(note.find("gnuplot is not installed"), std::string::npos) << note;
  }
  EXPECT_EQ(names_in(out), expected);
  for (const std::string& f : expected) {
    if (f != "lab.gp.log") {
      EXPECT_GT(fs::file_size(out / f), 0u) << f;
    }
  }
  // Nothing ran the $(...): the only thing in the base folder is the report.
  EXPECT_EQ(names_in(base), std::set<std::string>{name});
  fs::current_path(cwd);
  EXPECT_FALSE(fs::exists(cwd / "pwned"));
  fs::remove_all(base);
}

}  // namespace
}  // namespace twstack::app
