#include "apps/common/text.hh"

#include <gtest/gtest.h>

namespace twstack::app {
namespace {

using Ports = std::vector<std::uint16_t>;

TEST(FormatPorts, RangesJoinedByCommasAndBack) {
  EXPECT_EQ(format_ports({80}), "80");
  EXPECT_EQ(format_ports({80, 1000, 1001, 1002, 8080, 8081}), "80,1000-1002,8080-8081");
  EXPECT_EQ(format_ports({}), "");
  Ports many;
  for (std::uint32_t p = 1000; p <= 4999; ++p) many.push_back(static_cast<std::uint16_t>(p));
  EXPECT_EQ(format_ports(many), "1000-4999");
  EXPECT_EQ(parse_ports(format_ports({7, 9, 10, 3})), (Ports{7, 9, 10, 3}));
}

TEST(ParsePorts, OnePortARangeAndAList) {
  EXPECT_EQ(parse_ports("80"), Ports{80});
  EXPECT_EQ(parse_ports("1000-1003"), (Ports{1000, 1001, 1002, 1003}));
  EXPECT_EQ(parse_ports("80,8080,9000-9001"), (Ports{80, 8080, 9000, 9001}));
  EXPECT_EQ(parse_ports("65535-65535"), Ports{65535});
  EXPECT_EQ(parse_ports("1-65535")->size(), 65535u);
}

TEST(ParsePorts, RefusesWhatIsNotAPortList) {
  for (const char* bad : {"", "0", "65536", "80-79", "80,", ",80", "a", "80-", "-80", "80 ", "1-2-3", "0x50", "+80"}) {
    EXPECT_EQ(parse_ports(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace twstack::app
