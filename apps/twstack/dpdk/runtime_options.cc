#include "apps/twstack/dpdk/runtime_options.hh"

namespace twstack::app {

void add_runtime_options(CLI::App& app, RuntimeArgs* a) {
  app.add_option("--port", a->port,
                 "the DPDK port: tap:NAME, memif:server:SOCKET, memif:client:SOCKET, ring:NAME, af_packet:IFACE or "
                 "pci:BDF (required)")
      ->type_name("SPEC");
  app.add_option("--ip", a->ips, "a local address and prefix length (repeatable; the first is the source of connects)")
      ->type_name("ADDR/LEN");
  app.add_option("--gateway", a->gateway, "the next hop for destinations off the first address's subnet")
      ->type_name("ADDR");
  app.add_option("--queues", a->queues, "queues on the port, one engine and one lcore each (default 1)")
      ->type_name("N")->transform(whole(1, 64));
  app.add_option("--lcores", a->lcores,
                 "EAL --lcores: the lcores to run on, one per queue (default: one, floating on our CPUs)")
      ->type_name("LIST");
  app.add_flag("--hugepages", a->hugepages, "use hugepages (a real NIC); default --no-huge, memory from malloc");
  app.add_option("--eal", a->eal,
                 "more EAL arguments, passed last, for experts (e.g. \"--huge-dir /mnt/huge -m 2048\")")
      ->type_name("ARGS");
  add_knob_options(app, &a->knobs, "the engines");
  app.add_option("--capture", a->capture,
                 "write every frame received and sent to FILE (pcap; FILE.qN for queue N > 0)")
      ->type_name("FILE");
  app.add_option("--duration", a->duration_s, "stop after S seconds (default 0: at SIGINT or SIGTERM)")
      ->type_name("S")->transform(whole(0, 100000000));
  app.add_option("--linger", a->linger_s,
                 "after stopping, keep the port open, unpolled, S seconds (decimal) before closing it: lets a "
                 "net_memif peer stop first (default 0)")
      ->type_name("S")->transform(real(0, 3600));
  app.add_option("--link-timeout", a->link_timeout_s,
                 "how long to wait for the port's link (a memif server: for its client) (default 5)")
      ->type_name("S")->transform(whole(1, 3600));
  app.add_option("--seed", a->seed, "the engine secret (ISNs, timestamp offsets, port choice); default random")
      ->type_name("S")->transform(whole(0, UINT64_MAX));
  app.add_flag("--json", a->json, "one JSON object per line: a line per second, then the summary");
}

void runtime_settings_from(const RuntimeArgs& a, RuntimeSettings* s) {
  if (!a.port) throw UsageError("option --port is required (e.g. --port tap:tw0)");
  s->port = *a.port;
  for (const std::string& ip : a.ips) {
    wire::Ipv4Addr addr;
    std::uint8_t len = 0;
    if (!parse_prefix(ip, &addr, &len)) throw UsageError("option --ip: '" + ip + "' is not ADDR/LEN (e.g. 10.0.0.2/24)");
    s->ips.push_back(ip);
  }
  if (s->ips.empty()) throw UsageError("option --ip is required (e.g. --ip 10.0.0.2/24)");
  if (a.gateway) {
    wire::Ipv4Addr addr;
    if (!wire::Ipv4Addr::parse(*a.gateway, &addr)) {
      throw UsageError("option --gateway: '" + *a.gateway + "' is not an IPv4 address");
    }
    s->gateway = *a.gateway;
  }
  s->queues = a.queues;
  s->lcores = a.lcores;
  s->eal = a.eal;
  s->hugepages = a.hugepages;
  s->config = stack_config_from(a.knobs);
  s->capture = a.capture;
  s->duration_s = a.duration_s;
  s->linger = Duration::micros(static_cast<std::int64_t>(a.linger_s * 1e6));
  s->link_timeout = Duration::seconds(a.link_timeout_s);
  s->seed = a.seed;
  s->json = a.json;
}

}  // namespace twstack::app
