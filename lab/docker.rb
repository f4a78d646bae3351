# frozen_string_literal: true

# The lab's Docker provider: every machine is a container from the test bed's node images (a control-plane node
# runs its own Docker engine and kbs; a worker runs containerd and the kubelet), on a Docker network of the lab's
# own that carries the machines' fixed addresses. No SSH: the containers have no sshd, so Vagrant's docker
# provider runs with has_ssh = false and the lab runs the same provisioning scripts as on VMs with `docker exec`
# (lab/master.sh, lab/worker.sh), from the Vagrantfile's triggers. Why: docs/lab.md.
#
# Vagrant evaluates every provider's block of a Vagrantfile whichever provider runs, so the Vagrantfile asks
# in_use? first: a laptop with VirtualBox and no Docker never runs docker because of this file.

require "English"
require "fileutils"
require "open3"

module KbsLab
  module Docker
    LABEL = "io.kbs.lab" # on the lab's network, for `docker network ls --filter label=io.kbs.lab`
    CGROUP_PARENT = "kbs-node" # like tests/support/nodes.py: /sys/fs/cgroup/<hierarchy>/kbs-node/<container>
    CGROUP_ROOT = "/sys/fs/cgroup"
    TESTBED = File.join(ROOT, "tests", "testbed", "testbed.sh")
    ROLES = { "master" => "control-plane", "worker" => "worker" }.freeze

    class Error < StandardError; end

    module_function

    # Whether this Vagrant command works with the docker provider: `--provider docker` (or =docker),
    # VAGRANT_DEFAULT_PROVIDER=docker, or a machine that the docker provider made already.
    def in_use?(node, argv = ARGV, env = ENV)
      return true if argv.include?("--provider=docker") || argv.each_cons(2).include?(%w[--provider docker])
      return true if env["VAGRANT_DEFAULT_PROVIDER"] == "docker"

      dotfile = env.fetch("VAGRANT_DOTFILE_PATH", File.join(env.fetch("VAGRANT_CWD", ROOT), ".vagrant"))
      File.exist?(File.join(File.expand_path(dotfile, ROOT), "machines", node.name, "docker", "id"))
    end

    # Whether this command may create containers (then a missing image is an error now, not after a pull).
    def creating?(argv = ARGV)
      %w[up reload].include?(argv.find { |a| !a.start_with?("-") })
    end

    def container_name(settings, node)
      "#{settings['name']}-#{node.name}"
    end

    def network_name(settings)
      settings["name"]
    end

    def image(settings, node)
      chosen = settings["docker_#{node.role}_image"]
      return chosen unless chosen.empty?

      "kbs-testbed/node-#{ROLES.fetch(node.role)}:#{settings['kubernetes_version']}"
    end

    # The image must be here already (no registry is asked): a clear message instead of a failed pull.
    def check_image(image)
      return image if docker("image", "inspect", "--format", "{{.Id}}", image)[2]

      raise Error, "no Docker image #{image} on this machine: build the test bed's node images " \
                   "(make testbed, or tests/testbed/testbed.sh node-images), or set docker_master_image / " \
                   "docker_worker_image in the lab's settings"
    end

    # The images the node loads into its runtime at start (the test bed saved them for each role).
    def images_dir(node)
      out, status = Open3.capture2(TESTBED, "node-images", ROLES.fetch(node.role))
      raise Error, "#{TESTBED} node-images failed: build the test bed first (make testbed)" unless status.success?

      out.strip
    end

    # Whether `docker run --privileged` can start a container here. Some machines' root lacks a capability
    # Docker's privileged mode asks for (CAP_SYS_RESOURCE on the test bed): every privileged container fails with
    # "unable to apply caps". Asked once per Vagrant run, with a throwaway container that is always removed.
    def privileged_works?(image)
      @privileged ||= {}
      return @privileged[image] if @privileged.key?(image)

      probe = "kbs-lab-privileged-probe-#{Process.pid}-#{rand(1 << 30)}"
      _out, _err, status = Open3.capture3("docker", "run", "--name", probe, "--privileged", "--entrypoint", "true",
                                          image)
      Open3.capture3("docker", "rm", "-f", probe) # a container that failed to start stays behind as Created
      @privileged[image] = status.success?
    end

    # What a node container needs beyond `docker run --name -h -v -e IMAGE` (which Vagrant writes itself).
    # The recipe of tests/support/nodes.py: the runtime's state on tmpfs (overlay on overlay fails), the host's
    # cgroups writable, /dev/kmsg for the kubelet, and privileged or, where that fails, every capability but the
    # missing one with the confinements lifted.
    def create_args(settings, node, privileged)
      state_dir = node.role == "worker" ? "/var/lib/containerd" : "/var/lib/docker"
      args = [
        "--pull=never", # the node images are the test bed's, built here: never a registry
        "--network=#{network_name(settings)}", "--ip=#{node.ip}",
        "--label=#{LABEL}=#{settings['name']}",
        "--init", "--tmpfs=/run:exec", "--tmpfs=#{state_dir}:exec", "--tmpfs=/tmp:exec",
        "--volume=/sys/fs/cgroup:/sys/fs/cgroup:rw", "--device=/dev/kmsg",
        # The whole node (its supervisor, runtime, pods) under one cgroup: what `make lab` measures per node.
        "--cgroup-parent=/#{CGROUP_PARENT}/#{container_name(settings, node)}",
      ]
      args << "--volume=/lib/modules:/lib/modules:ro" if File.directory?("/lib/modules")
      return args if privileged

      args + ["--cap-add=ALL", "--cap-drop=SYS_RESOURCE", "--security-opt=seccomp=unconfined",
              "--security-opt=apparmor=unconfined", "--security-opt=systempaths=unconfined",
              "--device-cgroup-rule=a *:* rwm"]
    end

    def volumes(node, in_use = true)
      images = in_use ? images_dir(node) : "/nonexistent" # testbed.sh is not run for another provider
      volumes = ["#{images}:/testbed/images/#{ROLES.fetch(node.role)}:ro"]
      volumes << "#{ROOT}:/kbs:ro" if node.role == "master" # the node image's `kbs` runs the project's source
      volumes
    end

    def env(settings, node)
      # kbs-node keeps the node's runtime cgroups under this path (its Docker engine's --cgroup-parent, the
      # kubelet's --cgroup-root): two kubelets under one /kubepods would take each other's pods for orphans.
      { "KBS_NODE_CGROUP" => "/#{CGROUP_PARENT}/#{container_name(settings, node)}" }
    end

    # --- triggers ---------------------------------------------------------------------------------------------

    # What the scripts are told on top of the provider-independent environment: the node is a container from the
    # test bed's node image (everything is installed; its kubelet runs on cgroupfs, possibly cgroup v1).
    def provision_env
      { "KBS_LAB_CONTAINER" => "1", "KBS_LAB_SKIP_PACKAGES" => "1", "KBS_LAB_KUBECONFIG_USER" => "root" }
    end

    def docker(*argv)
      out, err, status = Open3.capture3("docker", *argv)
      [out, err, status.success?]
    end

    # The lab's network, made before the first machine starts (machines start in parallel: a concurrent
    # creation is fine). Its subnet holds the settings' fixed addresses; .1 is the host.
    def ensure_network(settings, timeout = 30)
      name = network_name(settings)
      prefix = settings["network_prefix"]
      deadline = Time.now + timeout
      until docker("network", "inspect", name)[2]
        _out, err, ok = docker("network", "create", "--driver=bridge", "--subnet=#{prefix}.0/24",
                               "--gateway=#{prefix}.1", "--label=#{LABEL}=#{settings['name']}", name)
        next if ok

        # Another machine's trigger may be creating it right now (its name or its subnet is taken): look again.
        if Time.now > deadline
          raise Error, "cannot create the lab network #{name} (#{prefix}.0/24): #{err.strip}; " \
                       "choose another network_prefix (or name), or remove what uses it"
        end
        sleep 0.5
      end
    end

    # After a machine is destroyed: its cgroups (made by the node's runtimes outside the container's own), and
    # the network once no lab container is left on it.
    def clean_up(settings, node)
      remove_cgroups(container_name(settings, node))
      name = network_name(settings)
      out, _err, ok = docker("network", "inspect", "--format", "{{len .Containers}}", name)
      docker("network", "rm", name) if ok && out.strip == "0"
    end

    def remove_cgroups(container, timeout = 30)
      deadline = Time.now + timeout
      loop do
        left = Dir.glob("#{CGROUP_ROOT}/*/#{CGROUP_PARENT}/#{container}{,/**/}").select { |d| File.directory?(d) }
        return if left.empty?
        raise Error, "cgroups of #{container} are still busy: #{left.first}" if Time.now > deadline

        left.sort_by { |d| -d.count("/") }.each do |dir|
          Dir.rmdir(dir)
        rescue SystemCallError
          nil # a cgroup whose last process is still exiting refuses rmdir for a moment
        end
        sleep 0.1
      end
    end

    # Runs the machine's provisioning script in its container, as root, output streamed to the terminal.
    def provision(machine, node, env)
      raise Error, "#{node.name} has no container: vagrant up #{node.name}" if machine.id.nil?

      wait_ready(machine.id, node.name)
      assignments = env.map { |k, v| "#{k}=#{v}" }
      argv = ["docker", "exec", machine.id, "env", *assignments, "bash", "#{GUEST_ROOT}/lab/#{node.role}.sh"]
      return if system(*argv)

      raise Error, "provisioning #{node.name} failed (exit #{$CHILD_STATUS.exitstatus}): read its output above, " \
                   "fix the cause and run `vagrant provision #{node.name}` (it is safe to repeat)"
    end

    # The node's supervisor (kbs-node) touches /run/kbs-node/ready when its runtime is up and its images loaded.
    def wait_ready(id, name, timeout = 180)
      deadline = Time.now + timeout
      until docker("exec", id, "test", "-f", "/run/kbs-node/ready")[2]
        if Time.now > deadline
          raise Error, "#{name}: its runtime did not come up in #{timeout}s; see `vagrant docker-logs #{name}` " \
                       "and /var/log in the container"
        end
        sleep 0.5
      end
    end
  end
end
