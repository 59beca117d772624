// Port specs as a person types them (`--port tap:tw0`), turned into what the
// EAL needs to create the device (a --vdev string, or a PCI allow-list
// entry) and the name ethdev knows the port by afterwards.
//
//   tap:NAME                    net_tap, a kernel TAP interface NAME
//   memif:server:SOCKET         net_memif, role=server, control socket SOCKET
//   memif:client:SOCKET         net_memif, role=client
//   ring:NAME                   net_ring, a loopback port (what a queue sends,
//                               the same queue receives)
//   af_packet:IFACE             net_af_packet on the kernel interface IFACE
//   pci:BDF                     a PCI device, [DDDD:]BB:DD.F, allowed with -a
//
// Any form may end in ",key=value,..." which is passed to the driver as is
// (`tap:tw0,mac=fixed`, `memif:client:/run/vpp/memif.sock,socket-abstract=no`,
// `pci:0000:03:00.0,rxq_cqe_comp_en=0`).
//
// Pure C++: no DPDK call, so it is unit-tested without the EAL.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace twstack::dpdk {

enum class PortKind : std::uint8_t { kTap, kMemif, kRing, kAfPacket, kPci };

struct PortSpec {
  PortKind kind = PortKind::kRing;
  std::string text;    // as typed, for messages
  std::string device;  // vdev name ("net_tap0") or PCI address ("0000:03:00.0")
  std::string args;    // driver arguments ("iface=tw0"); may be empty

  bool is_pci() const { return kind == PortKind::kPci; }
  // What the EAL is given: {"--vdev=net_tap0,iface=tw0"} or {"-a", "0000:03:00.0,k=v"}.
  std::vector<std::string> eal_args() const;
  // The name rte_eth_dev_get_port_by_name() knows the port by: the vdev name,
  // or the PCI address in DPDK's full form (the domain always written).
  const std::string& port_name() const { return device; }

  bool operator==(const PortSpec&) const = default;
};

// Every accepted form, one per line, for error messages and --help.
std::string_view port_spec_forms();

// Parses one spec. `index` numbers the vdev among those of its driver
// (net_tap<index>); ring ports are named after NAME instead (net_ring_NAME,
// as rte_eth_from_rings names its ports). nullopt on success; otherwise a
// message quoting the spec, saying what is wrong and listing every form.
std::optional<std::string> parse_port_spec(std::string_view text, unsigned index, PortSpec* out);

// Parses a list in order, numbering vdevs per driver from 0, and refuses the
// same interface, ring, or PCI device twice. All-or-nothing.
std::optional<std::string> parse_port_specs(std::span<const std::string> texts, std::vector<PortSpec>* out);

}  // namespace twstack::dpdk
