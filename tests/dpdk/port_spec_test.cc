// Port specs as typed on the command line -> EAL arguments and port names;
// and the EAL argument vector built around them. No EAL is started.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "drivers/dpdk/eal.hh"
#include "drivers/dpdk/port_spec.hh"

namespace twstack::dpdk {
namespace {

PortSpec parse_ok(std::string_view text, unsigned index = 0) {
  PortSpec s;
  std::optional<std::string> err = parse_port_spec(text, index, &s);
  EXPECT_FALSE(err) << text << ": " << err.value_or("");
  return s;
}

std::string parse_err(std::string_view text) {
  PortSpec s;
  std::optional<std::string> err = parse_port_spec(text, 0, &s);
  EXPECT_TRUE(err) << text << " was accepted";
  return err.value_or("");
}

using Args = std::vector<std::string>;

TEST(PortSpec, Tap) {
  PortSpec s = parse_ok("tap:tw0", 2);
  EXPECT_EQ(s.kind, PortKind::kTap);
  EXPECT_EQ(s.port_name(), "net_tap2");
  EXPECT_EQ(s.eal_args(), Args{"--vdev=net_tap2,iface=tw0"});
  EXPECT_EQ(s.text, "tap:tw0");
}

TEST(PortSpec, MemifBothRoles) {
  PortSpec s = parse_ok("memif:server:/run/twstack/m0.sock");
  EXPECT_EQ(s.kind, PortKind::kMemif);
  EXPECT_EQ(s.port_name(), "net_memif0");
  EXPECT_EQ(s.eal_args(), Args{"--vdev=net_memif0,role=server,socket=/run/twstack/m0.sock"});
  PortSpec c = parse_ok("memif:client:/run/twstack/m0.sock", 1);
  EXPECT_EQ(c.eal_args(), Args{"--vdev=net_memif1,role=client,socket=/run/twstack/m0.sock"});
  // A socket path may itself contain ':'.
  EXPECT_EQ(parse_ok("memif:client:/tmp/a:b").args, "role=client,socket=/tmp/a:b");
}

TEST(PortSpec, RingIsNamedAfterItsName) {
  PortSpec s = parse_ok("ring:lo0", 5);
  EXPECT_EQ(s.kind, PortKind::kRing);
  EXPECT_EQ(s.port_name(), "net_ring_lo0");
  EXPECT_EQ(s.eal_args(), Args{"--vdev=net_ring_lo0"});
}

TEST(PortSpec, AfPacket) {
  PortSpec s = parse_ok("af_packet:eth0");
  EXPECT_EQ(s.port_name(), "net_af_packet0");
  EXPECT_EQ(s.eal_args(), Args{"--vdev=net_af_packet0,iface=eth0"});
}

TEST(PortSpec, PciIsNormalisedToDpdksName) {
  PortSpec s = parse_ok("pci:0000:03:00.0");
  EXPECT_TRUE(s.is_pci());
  EXPECT_EQ(s.port_name(), "0000:03:00.0");
  EXPECT_EQ(s.eal_args(), (Args{"-a", "0000:03:00.0"}));
  EXPECT_EQ(parse_ok("pci:3:0.1").port_name(), "0000:03:00.1");
  EXPECT_EQ(parse_ok("pci:AF:1F.7").port_name(), "0000:af:1f.7");
  EXPECT_EQ(parse_ok("pci:1:af:00.0").port_name(), "0001:af:00.0");
}

TEST(PortSpec, ExtraDriverArgumentsPassThrough) {
  EXPECT_EQ(parse_ok("tap:tw0,mac=fixed").eal_args(), Args{"--vdev=net_tap0,iface=tw0,mac=fixed"});
  EXPECT_EQ(parse_ok("memif:client:/run/vpp/memif.sock,socket-abstract=no,id=3").args,
            "role=client,socket=/run/vpp/memif.sock,socket-abstract=no,id=3");
  EXPECT_EQ(parse_ok("pci:0000:03:00.0,rxq_cqe_comp_en=0").eal_args(),
            (Args{"-a", "0000:03:00.0,rxq_cqe_comp_en=0"}));
  EXPECT_EQ(parse_ok("tap:tw0,persist").args, "iface=tw0,persist");
}

TEST(PortSpec, BadSpecsListEveryForm) {
  for (const char* bad : {"", "tap", "tap:", "eth:x", "tap:a/b", "tap:0123456789abcdef", "tap:.", "tap:a b",
                          "memif:tw", "memif:master:/x", "memif:server:", "ring:", "ring:toolongname",
                          "ring:a-b", "af_packet:", "pci:", "pci:03:00", "pci:0000:03:20.0", "pci:03:00.8",
                          "pci:00000:03:00.0", "pci:zz:00.0", "tap:tw0,", "tap:tw0,=1", "tap:tw0,k=",
                          "tap:tw0,iface=x", "memif:server:/x,socket=/y", "tap:tw0,a=1,,b=2"}) {
    std::string err = parse_err(bad);
    EXPECT_NE(err.find(std::string("'") + bad + "'"), std::string::npos) << err;
    for (const char* form : {"tap:NAME", "memif:server:SOCKET", "memif:client:SOCKET", "ring:NAME",
                             "af_packet:IFACE", "pci:BDF"}) {
      EXPECT_NE(err.find(form), std::string::npos) << bad << " -> " << err;
    }
  }
}

TEST(PortSpec, MessagesSayWhatIsWrong) {
  EXPECT_NE(parse_err("tapp:tw0").find("did you mean 'tap'"), std::string::npos);
  EXPECT_NE(parse_err("tap:0123456789abcdef").find("15 characters"), std::string::npos);
  EXPECT_NE(parse_err("memif:master:/x").find("server or client"), std::string::npos);
  EXPECT_NE(parse_err("pci:03:00.8").find("function"), std::string::npos);
  EXPECT_NE(parse_err("memif:server:/" + std::string(107, 'x')).find("107"), std::string::npos);
}

TEST(PortSpec, ListNumbersEachDriverFromZero) {
  std::vector<std::string> in = {"tap:a", "memif:server:/s0", "tap:b", "ring:r", "memif:client:/s1",
                                 "af_packet:lo", "pci:03:00.0"};
  std::vector<PortSpec> out;
  ASSERT_FALSE(parse_port_specs(in, &out));
  ASSERT_EQ(out.size(), in.size());
  EXPECT_EQ(out[0].port_name(), "net_tap0");
  EXPECT_EQ(out[1].port_name(), "net_memif0");
  EXPECT_EQ(out[2].port_name(), "net_tap1");
  EXPECT_EQ(out[3].port_name(), "net_ring_r");
  EXPECT_EQ(out[4].port_name(), "net_memif1");
  EXPECT_EQ(out[5].port_name(), "net_af_packet0");
  EXPECT_EQ(out[6].port_name(), "0000:03:00.0");
}

TEST(PortSpec, ListRefusesTheSameDeviceTwiceAndKeepsOutputOnError) {
  std::vector<PortSpec> out = {PortSpec{}};
  for (std::vector<std::string> in : {std::vector<std::string>{"tap:a", "tap:a"},
                                      {"tap:a,mac=fixed", "tap:a"},
                                      {"ring:r", "ring:r"},
                                      {"pci:03:00.0", "pci:0000:03:00.0"},
                                      {"tap:a", "bogus:x"}}) {
    EXPECT_TRUE(parse_port_specs(in, &out)) << in[0] << " " << in[1];
    EXPECT_EQ(out.size(), 1u);
  }
  // Different drivers may share an interface name; a memif socket may carry several ids.
  EXPECT_FALSE(parse_port_specs(std::vector<std::string>{"tap:a", "af_packet:a"}, &out));
  EXPECT_FALSE(parse_port_specs(std::vector<std::string>{"memif:server:/s,id=0", "memif:server:/s,id=1"}, &out));
}

// --- EAL arguments -------------------------------------------------------

bool has(const Args& a, std::string_view s) {
  for (const std::string& x : a) {
    if (x == s) return true;
  }
  return false;
}
bool has_prefix(const Args& a, std::string_view p) {
  for (const std::string& x : a) {
    if (x.starts_with(p)) return true;
  }
  return false;
}

TEST(EalArgs, DefaultsRunWithoutHugepagesOrNic) {
  EalOptions o;
  o.file_prefix = "t1";
  Args a = Eal::build_args(o);
  EXPECT_EQ(a[0], "twstack");
  EXPECT_TRUE(has(a, "--no-huge"));
  EXPECT_TRUE(has(a, "--no-shconf"));
  EXPECT_FALSE(has(a, "--in-memory")) << "22.11 refuses --in-memory with --no-huge";
  EXPECT_TRUE(has(a, "-m"));
  EXPECT_TRUE(has(a, "512"));
  EXPECT_TRUE(has(a, "--file-prefix=t1"));
  EXPECT_TRUE(has(a, "--no-pci"));
  EXPECT_TRUE(has(a, "--log-level=error"));
  EXPECT_TRUE(has_prefix(a, "--lcores=0@("));
  EXPECT_FALSE(has(a, "--no-telemetry"));
  o.file_prefix.clear();
  EXPECT_TRUE(has_prefix(Eal::build_args(o), "--file-prefix=twstack-"));
}

TEST(EalArgs, PortsAddDevicesAndPciLiftsNoPci) {
  EalOptions o;
  std::vector<PortSpec> specs;
  ASSERT_FALSE(parse_port_specs(std::vector<std::string>{"tap:tw0", "pci:03:00.0"}, &specs));
  o.ports = specs;
  Args a = Eal::build_args(o);
  EXPECT_TRUE(has(a, "--vdev=net_tap0,iface=tw0"));
  EXPECT_TRUE(has(a, "-a"));
  EXPECT_TRUE(has(a, "0000:03:00.0"));
  EXPECT_FALSE(has(a, "--no-pci"));
}

TEST(EalArgs, MemifKeepsSharedConfig) {
  EalOptions o;
  std::vector<PortSpec> specs;
  ASSERT_FALSE(parse_port_specs(std::vector<std::string>{"memif:server:/s"}, &specs));
  o.ports = specs;
  EXPECT_FALSE(has(Eal::build_args(o), "--no-shconf"));
}

TEST(EalArgs, ExpertArgumentsComeLastAndReplaceOurs) {
  EalOptions o;
  ASSERT_FALSE(split_eal_args("-l 1 --socket-mem=256 --file-prefix 'my prefix' -a 0000:01:00.0", &o.extra));
  EXPECT_EQ(o.extra, (Args{"-l", "1", "--socket-mem=256", "--file-prefix", "my prefix", "-a", "0000:01:00.0"}));
  Args a = Eal::build_args(o);
  EXPECT_FALSE(has_prefix(a, "--lcores"));
  EXPECT_FALSE(has(a, "-m"));
  EXPECT_FALSE(has_prefix(a, "--file-prefix="));
  EXPECT_FALSE(has(a, "--no-pci"));
  EXPECT_EQ(a.back(), "0000:01:00.0");
  o.telemetry = false;
  o.hugepages = true;
  o.memory_mb = 0;
  o.extra.clear();
  a = Eal::build_args(o);
  EXPECT_TRUE(has(a, "--no-telemetry"));
  EXPECT_FALSE(has(a, "--no-huge"));
  EXPECT_FALSE(has(a, "--no-shconf"));
  EXPECT_FALSE(has(a, "-m"));
}

TEST(EalArgs, SplitRefusesAnOpenQuote) {
  Args out = {"x"};
  EXPECT_TRUE(split_eal_args("--vdev 'net_tap0", &out));
  EXPECT_EQ(out, Args{"x"});
  ASSERT_FALSE(split_eal_args("  ", &out));
  EXPECT_TRUE(out.empty());
  ASSERT_FALSE(split_eal_args("a\"b c\"d ''", &out));
  EXPECT_EQ(out, (Args{"ab cd", ""}));
}

}  // namespace
}  // namespace twstack::dpdk
