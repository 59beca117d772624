// The option parser: syntax, typed getters, and the messages of mistakes.
#include "apps/common/options.hh"

#include <gtest/gtest.h>

#include <vector>

namespace twstack::app {
namespace {

constexpr OptionSpec kSpecs[] = {
    {"bytes", "N", "bytes"},
    {"loss", "P", "loss"},
    {"both", "", "a flag"},
    {"set", "K=V", "repeatable", true},
    {"mode", "M", "a choice"},
    {"delta", "D", "signed"},
};

Options parse(std::vector<std::string_view> args, std::size_t positional = 0) {
  return Options::parse(kSpecs, args, positional);
}

std::string error_of(std::vector<std::string_view> args) {
  try {
    parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

template <class F>
std::string getter_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(Options, SpaceAndEqualsForms) {
  Options o = parse({"--bytes", "10", "--loss=0.25", "--both"});
  EXPECT_EQ(o.u64("bytes", 0, 0, 100), 10u);
  EXPECT_EQ(o.real("loss", 0, 0, 1), 0.25);
  EXPECT_TRUE(o.flag("both"));
  EXPECT_FALSE(o.has("mode"));
  EXPECT_EQ(o.str("mode", "fast"), "fast");
  EXPECT_FALSE(o.help());
  EXPECT_TRUE(parse({"-h"}).help());
  EXPECT_TRUE(parse({"--bytes=1", "--help"}).help());
}

TEST(Options, DefaultsWhenAbsent) {
  Options o = parse({});
  EXPECT_EQ(o.u64("bytes", 7, 0, 100), 7u);
  EXPECT_EQ(o.real("loss", 0.5, 0, 1), 0.5);
  EXPECT_EQ(o.i64("delta", -3, -10, 10), -3);
  EXPECT_FALSE(o.get("bytes").has_value());
}

TEST(Options, SuffixesAndHex) {
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
}

TEST(Options, RepeatableCollectsAll) {
  Options o = parse({"--set", "a=1", "--set=b=2"});
  EXPECT_EQ(o.all("set"), (std::vector<std::string_view>{"a=1", "b=2"}));
  EXPECT_EQ(o.get("set"), "b=2");
}

TEST(Options, SyntaxMistakesNameTheOption) {
  EXPECT_EQ(error_of({"--byts", "1"}), "unknown option --byts (did you mean --bytes?)");
  EXPECT_EQ(error_of({"--zzzzzz"}), "unknown option --zzzzzz");
  EXPECT_EQ(error_of({"--bytes"}), "option --bytes needs a value (N)");
  EXPECT_EQ(error_of({"--both=yes"}), "option --both takes no value");
  EXPECT_EQ(error_of({"--bytes", "1", "--bytes", "2"}), "option --bytes given more than once");
  EXPECT_EQ(error_of({"-b"}), "unknown option '-b' (options are spelled --name)");
  EXPECT_EQ(error_of({"extra"}), "unexpected argument 'extra' (this command takes only options)");
}

TEST(Options, PositionalWhenAllowed) {
  Options o = parse({"one", "--both", "--", "--two"}, 2);
  EXPECT_EQ(o.positional(), (std::vector<std::string_view>{"one", "--two"}));
  EXPECT_THROW(parse({"a", "b", "c"}, 2), UsageError);
}

TEST(Options, RangeAndTypeMistakesSayWhatIsAllowed) {
  Options o = parse({"--bytes", "500", "--loss", "1.5", "--mode", "slow", "--delta", "x"});
  EXPECT_EQ(getter_error([&] { o.u64("bytes", 0, 1, 100); }),
            "option --bytes: '500' is out of range (allowed: 1 to 100)");
  EXPECT_EQ(getter_error([&] { o.real("loss", 0, 0, 1); }),
            "option --loss: '1.5' is out of range (allowed: 0 to 1)");
  constexpr std::string_view kModes[] = {"fast", "linux"};
  EXPECT_EQ(getter_error([&] { o.choice("mode", "fast", kModes); }),
            "option --mode: 'slow' is not allowed (one of: fast, linux)");
  EXPECT_EQ(getter_error([&] { o.i64("delta", 0, -5, 5); }),
            "option --delta: 'x' is not a whole number (allowed: -5 to 5)");
  EXPECT_EQ(parse({"--delta", "-5"}).i64("delta", 0, -5, 5), -5);
  EXPECT_THROW(o.u64("undeclared", 0, 0, 1), std::logic_error);
}

TEST(Options, DescribeAlignsColumns) {
  std::string d = describe_options(kSpecs);
  EXPECT_NE(d.find("  --bytes N  bytes\n"), std::string::npos) << d;
  EXPECT_NE(d.find("  --help     show this help\n"), std::string::npos) << d;
}

}  // namespace
}  // namespace twstack::app
