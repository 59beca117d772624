#include "apps/common/text.hh"

#include <gtest/gtest.h>

namespace twstack::app {
namespace {

using Ports = std::vector<std::uint16_t>;

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
