# frozen_string_literal: true

# The lab's settings and machine list, outside the Vagrantfile so they can be checked without a hypervisor:
#
#   ruby -r ./lab/settings.rb -e 'puts KbsLab.plan.to_json'
#
# Settings come from lab/settings.yaml, then the file named by KBS_LAB_SETTINGS, then KBS_LAB_<KEY> variables.
# The Kubernetes version defaults to the one kbs defaults to (bootstrap/versions.toml), so the workers' upstream
# kubelet and kubeadm are always of the control plane's minor.

require "json"
require "yaml"

module KbsLab
  LAB_DIR = __dir__
  ROOT = File.dirname(LAB_DIR)
  DEFAULTS_FILE = File.join(LAB_DIR, "settings.yaml")
  VERSIONS_TOML = File.join(ROOT, "bootstrap", "versions.toml")
  ENV_PREFIX = "KBS_LAB_"
  GUEST_ROOT = "/vagrant" # where the project folder is mounted in every VM
  PUBLISHED = %w[admin.conf join-command join-command-control-plane].freeze # what master-1 writes there
  # The name the API server is reached by when there are several masters (its controlPlaneEndpoint). Every node
  # maps it to master-1 in /etc/hosts: a name, not an address, so that it can later point at a load balancer
  # without new certificates (kubeadm's advice for HA).
  API_NAME = "kbs-lab-api"
  API_PORT = 6443

  class SettingsError < StandardError; end

  Node = Struct.new(:name, :role, :index, :ip, :cpus, :memory, keyword_init: true)

  # The settings and the machines they describe.
  Plan = Struct.new(:settings, :nodes, keyword_init: true) do
    def kubernetes_version
      settings["kubernetes_version"]
    end

    # Where master-1 publishes admin.conf and the join commands (out_dir, in the project folder), as seen by the
    # machines and by the host.
    def guest_shared_dir
      "#{GUEST_ROOT}/#{settings['out_dir']}"
    end

    def host_shared_dir
      File.join(ROOT, settings["out_dir"])
    end

    def master_1
      nodes.find { |n| n.name == "master-1" }
    end

    # "" for one master; with more, the settings' control_plane_endpoint, else kbs-lab-api:6443 (/etc/hosts).
    def control_plane_endpoint
      return "" if settings["masters"] == 1

      chosen = settings["control_plane_endpoint"]
      chosen.empty? ? "#{API_NAME}:#{API_PORT}" : chosen
    end

    # The /etc/hosts line every node gets for the endpoint's name (nil when the endpoint is someone else's).
    def api_hosts_entry
      return nil unless control_plane_endpoint.start_with?("#{API_NAME}:")

      "#{master_1.ip} #{API_NAME}"
    end

    # The environment of a node's provisioning script (lab/master.sh or lab/worker.sh).
    def provision_env(node)
      env = {
        "KBS_LAB_ADDRESS" => node.ip,
        "KBS_LAB_NODE_NAME" => node.name,
        "KBS_LAB_SOURCE" => GUEST_ROOT,
        "KBS_LAB_SHARED_DIR" => guest_shared_dir,
        "KBS_LAB_KUBERNETES_VERSION" => kubernetes_version,
        "KBS_LAB_JOIN_WAIT_SECONDS" => settings["join_wait_seconds"].to_s,
        "KBS_LAB_CONTROL_PLANE_ENDPOINT" => control_plane_endpoint,
        "KBS_LAB_API_HOSTS_ENTRY" => api_hosts_entry.to_s,
      }
      if node.role == "master"
        # master-1 runs `kbs init`; the others `kbs join --control-plane` with the command master-1 published.
        env["KBS_LAB_INIT"] = node.index == 1 ? "1" : "0"
        env["KBS_LAB_KUBECONFIG_USER"] = "vagrant"
      end
      env
    end

    def to_json(*args)
      {
        "settings" => settings,
        "nodes" => nodes.map { |n| n.to_h.transform_keys(&:to_s).merge("env" => provision_env(n)) },
      }.to_json(*args)
    end
  end

  module_function

  def plan(env = ENV)
    settings = load_settings(env)
    Plan.new(settings: settings, nodes: nodes(settings))
  end

  def load_settings(env)
    defaults = read_yaml(DEFAULTS_FILE)
    settings = defaults.dup
    extra = env.fetch("#{ENV_PREFIX}SETTINGS", "")
    unless extra.empty?
      overrides = read_yaml(extra)
      unknown = overrides.keys - defaults.keys
      raise SettingsError, "#{extra}: unknown settings #{unknown.join(', ')} (known: #{defaults.keys.join(', ')})" \
        unless unknown.empty?
      settings.merge!(overrides)
    end
    defaults.each do |key, default|
      variable = "#{ENV_PREFIX}#{key.upcase}"
      source = env.key?(variable) ? variable : key
      settings[key] = coerce(source, env.fetch(variable, settings[key]), default)
    end
    settings["kubernetes_version"] = kbs_default_version if settings["kubernetes_version"].to_s.empty?
    validate(settings)
    settings
  end

  def read_yaml(path)
    data = YAML.safe_load(File.read(path)) || {}
    raise SettingsError, "#{path}: expected a mapping of settings" unless data.is_a?(Hash)

    data
  rescue Errno::ENOENT
    raise SettingsError, "#{path}: no such settings file"
  end

  # A value from YAML or the environment, as the type of its default (numbers stay numbers).
  def coerce(name, value, default)
    return value.to_s unless default.is_a?(Integer)
    return value if value.is_a?(Integer)

    Integer(value.to_s, 10)
  rescue ArgumentError
    raise SettingsError, "#{name}=#{value.inspect}: expected a whole number"
  end

  def kbs_default_version
    match = File.read(VERSIONS_TOML)[/^default\s*=\s*"(v\d+\.\d+\.\d+)"/, 1]
    raise SettingsError, "#{VERSIONS_TOML}: no `default = \"v1.x.y\"` line" if match.nil?

    match
  end

  def validate(settings)
    raise SettingsError, "masters must be at least 1 (got #{settings['masters']})" if settings["masters"] < 1
    raise SettingsError, "workers must be 0 or more (got #{settings['workers']})" if settings["workers"].negative?
    unless settings["kubernetes_version"].match?(/\Av\d+\.\d+\.\d+\z/)
      raise SettingsError, "kubernetes_version #{settings['kubernetes_version'].inspect} is not like v1.37.2"
    end
    unless settings["network_prefix"].match?(/\A\d{1,3}\.\d{1,3}\.\d{1,3}\z/)
      raise SettingsError, "network_prefix #{settings['network_prefix'].inspect} is not three octets like 192.168.56"
    end
    master_room = settings["worker_ip_start"] - settings["master_ip_start"]
    if settings["masters"] > master_room
      raise SettingsError, "#{settings['masters']} masters do not fit between master_ip_start " \
                           "#{settings['master_ip_start']} and worker_ip_start #{settings['worker_ip_start']}"
    end
    last = settings["worker_ip_start"] + settings["workers"] - 1
    raise SettingsError, "worker addresses would end at .#{last}, past .254" if last > 254
    raise SettingsError, "master_ip_start must be 2 or more (.1 is the host)" if settings["master_ip_start"] < 2
    unless settings["name"].match?(/\A[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?\z/)
      raise SettingsError, "name #{settings['name'].inspect} is not a short lower-case name like kbs-lab"
    end
    unless settings["out_dir"].match?(%r{\A[A-Za-z0-9_][A-Za-z0-9_./-]*\z}) && !settings["out_dir"].include?("..")
      raise SettingsError, "out_dir #{settings['out_dir'].inspect} is not a folder inside the project like lab/out"
    end
    endpoint = settings["control_plane_endpoint"]
    unless endpoint.empty? || endpoint.match?(/\A[A-Za-z0-9.-]+:\d{1,5}\z/)
      raise SettingsError, "control_plane_endpoint #{endpoint.inspect} is not host:port like lb.example:6443"
    end
  end

  def nodes(settings)
    %w[master worker].flat_map do |role|
      (1..settings["#{role}s"]).map do |index|
        Node.new(
          name: "#{role}-#{index}",
          role: role,
          index: index,
          ip: "#{settings['network_prefix']}.#{settings["#{role}_ip_start"] + index - 1}",
          cpus: settings["#{role}_cpus"],
          memory: settings["#{role}_memory"],
        )
      end
    end
  end

  # "virtualbox" on VirtualBox, "virtiofs" on libvirt, unless the settings name one type for all providers.
  def synced_folder_type(settings, provider)
    chosen = settings["synced_folder_type"]
    return chosen unless chosen.empty?

    provider == "libvirt" ? "virtiofs" : "virtualbox"
  end
end
