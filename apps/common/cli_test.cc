// The command line through CLI11: both option syntaxes, the number
// suffixes, ranges, choices, and the messages of mistakes.
#include "apps/common/cli.hh"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace twstack::app {
namespace {

// A command with one option of each kind, as the commands declare them.
struct Probe {
  Probe() {
    configure_app(top);
    top.require_subcommand(1);
    CLI::App* cmd = top.add_subcommand("probe", "a command for the tests");
    cmd->add_option("--bytes", bytes, "bytes (default 7)")->type_name("N")->transform(whole(1, 100));
    cmd->add_option("--big", big, "anything (default 0)")->type_name("N")->transform(whole(0, UINT64_MAX));
    cmd->add_option("--loss", loss, "loss (default 0.5)")->type_name("P")->transform(real(0, 1));
    cmd->add_flag("--both", both, "a flag");
    cmd->add_option("--set", sets, "repeatable")->type_name("K=V");
    cmd->add_option("--mode", mode, "a choice")->type_name("M")->transform(one_of({"fast", "linux"}));
    CLI::App* pos = top.add_subcommand("files", "takes up to two words");
    pos->add_option("FILE", files, "files")->expected(0, 2);
    pos->add_flag("--both", both, "a flag");
  }
  void parse(std::vector<std::string> args) { parse_args(top, args); }
  std::string error_of(std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  }

  CLI::App top{"twstack tests", "twstack"};
  std::uint64_t bytes = 7;
  std::uint64_t big = 0;
  double loss = 0.5;
  bool both = false;
  std::vector<std::string> sets;
  std::string mode = "fast";
  std::vector<std::string> files;
};

TEST(Cli, SpaceAndEqualsForms) {
  Probe p;
  p.parse({"probe", "--bytes", "10", "--loss=0.25", "--both"});
  EXPECT_EQ(p.bytes, 10u);
  EXPECT_EQ(p.loss, 0.25);
  EXPECT_TRUE(p.both);
  EXPECT_EQ(p.mode, "fast");
  EXPECT_THROW(Probe().parse({"probe", "-h"}), CLI::CallForHelp);
  EXPECT_THROW(Probe().parse({"probe", "--bytes=1", "--help"}), CLI::CallForHelp);
}

TEST(Cli, DefaultsWhenAbsent) {
  Probe p;
  p.parse({"probe"});
  EXPECT_EQ(p.bytes, 7u);
  EXPECT_EQ(p.loss, 0.5);
  EXPECT_FALSE(p.both);
  EXPECT_TRUE(p.sets.empty());
}

TEST(Cli, SuffixesAndHex) {
  EXPECT_EQ(parse_u64("10k"), 10000u);
  EXPECT_EQ(parse_u64("10K"), 10000u);
  EXPECT_EQ(parse_u64("3M"), 3000000u);
  EXPECT_EQ(parse_u64("2Gi"), 2u << 30);
  EXPECT_EQ(parse_u64("0x1f"), 31u);
  EXPECT_FALSE(parse_u64("1.5M"));
  EXPECT_FALSE(parse_u64("5x"));
  EXPECT_FALSE(parse_u64("-1"));
  EXPECT_FALSE(parse_u64(""));
  EXPECT_FALSE(parse_u64("20000000T"));  // overflows
  EXPECT_FALSE(parse_double("nan"));
  EXPECT_FALSE(parse_double("inf"));
  EXPECT_FALSE(parse_double("1e"));
  EXPECT_EQ(parse_double("1e-3"), 0.001);
  // ... and through an option.
  Probe p;
  p.parse({"probe", "--big", "2Gi", "--bytes=0x40"});
  EXPECT_EQ(p.big, 2u << 30);
  EXPECT_EQ(p.bytes, 64u);
  Probe q;
  q.parse({"probe", "--big=10k"});
  EXPECT_EQ(q.big, 10000u);
  EXPECT_EQ(Probe().error_of({"probe", "--big", "20000000T"}),
            "option --big: '20000000T' is not a whole number (allowed: 0 to 18446744073709551615; "
            "suffixes k, M, G, T or Ki, Mi, Gi, Ti)");
}

TEST(Cli, RepeatableCollectsAll) {
  Probe p;
  p.parse({"probe", "--set", "a=1", "--set=b=2"});
  EXPECT_EQ(p.sets, (std::vector<std::string>{"a=1", "b=2"}));
}

TEST(Cli, SyntaxMistakesNameTheOption) {
  EXPECT_EQ(Probe().error_of({"probe", "--byts", "1"}), "unknown option --byts (did you mean --bytes?)");
  EXPECT_EQ(Probe().error_of({"probe", "--zzzzzz"}), "unknown option --zzzzzz");
  EXPECT_EQ(Probe().error_of({"probe", "--bytes"}), "option --bytes needs a value (N)");
  EXPECT_EQ(Probe().error_of({"probe", "--both=yes"}), "option --both takes no value");
  EXPECT_EQ(Probe().error_of({"probe", "--bytes", "1", "--bytes", "2"}), "option --bytes given more than once");
  EXPECT_EQ(Probe().error_of({"probe", "-b"}), "unknown option '-b' (options are spelled --name)");
  EXPECT_EQ(Probe().error_of({"probe", "extra"}), "unexpected argument 'extra' (this command takes only options)");
  EXPECT_EQ(Probe().error_of({"prob"}), "unknown command 'prob'");
  EXPECT_EQ(Probe().error_of({}), "missing command");
}

TEST(Cli, PositionalWhenAllowed) {
  Probe p;
  p.parse({"files", "one", "--both", "two"});
  EXPECT_EQ(p.files, (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(p.both);
  EXPECT_EQ(Probe().error_of({"files", "a", "b", "c"}), "too many FILE arguments (at most 2)");
}

TEST(Cli, RangeAndTypeMistakesSayWhatIsAllowed) {
  EXPECT_EQ(Probe().error_of({"probe", "--bytes", "500"}), "option --bytes: '500' is out of range (allowed: 1 to 100)");
  EXPECT_EQ(Probe().error_of({"probe", "--bytes", "x"}),
            "option --bytes: 'x' is not a whole number (allowed: 1 to 100; suffixes k, M, G, T or Ki, Mi, Gi, Ti)");
  EXPECT_EQ(Probe().error_of({"probe", "--loss", "1.5"}), "option --loss: '1.5' is out of range (allowed: 0 to 1)");
  EXPECT_EQ(Probe().error_of({"probe", "--loss", "nan"}), "option --loss: 'nan' is not a number (allowed: 0 to 1)");
  EXPECT_EQ(Probe().error_of({"probe", "--mode", "slow"}), "option --mode: 'slow' is not allowed (one of: fast, linux)");
}

TEST(Cli, HelpNamesEachOptionAndItsValue) {
  Probe p;
  CLI::App* cmd = p.top.get_subcommand("probe");
  const std::string h = cmd->help(path_of(p.top));
  EXPECT_NE(h.find("Usage: twstack probe"), std::string::npos) << h;
  EXPECT_NE(h.find("--bytes N"), std::string::npos) << h;
  EXPECT_NE(h.find("bytes (default 7)"), std::string::npos) << h;
  EXPECT_NE(h.find("--help"), std::string::npos) << h;
  EXPECT_EQ(path_of(*cmd), "twstack probe");
}

}  // namespace
}  // namespace twstack::app
