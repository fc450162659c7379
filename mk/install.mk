# estcoapd: `make install` and `make uninstall`, included at the end of the
# Makefile. Stage a package with `make install DESTDIR=/tmp/x PREFIX=/usr`.
#
# The units and the sysusers file go where this host's systemd looks
# (pkg-config), whatever PREFIX is; the units name the daemon by its real
# SBINDIR. The sample config is installed next to estcoapd.json, which is
# never written: the operator owns it.

PREFIX		?= /usr/local
DESTDIR		?=
SBINDIR		?= $(PREFIX)/sbin
SYSCONFDIR	?= /etc
MANDIR		?= $(PREFIX)/share/man
# Asked once (:=), and only if not given on the command line.
ifeq ($(origin SYSTEMDUNITDIR),undefined)
SYSTEMDUNITDIR	:= $(or $(shell pkg-config --variable=systemdsystemunitdir \
		    systemd 2>/dev/null),/lib/systemd/system)
endif
ifeq ($(origin SYSUSERSDIR),undefined)
SYSUSERSDIR	:= $(or $(shell pkg-config --variable=sysusersdir \
		    systemd 2>/dev/null),/usr/lib/sysusers.d)
endif
INSTALL		?= install

INSTALL_UNITS	 = estcoapd.service estcoapd@.service

install: $(BUILD)/estcoapd
	$(INSTALL) -D -m 0755 $(BUILD)/estcoapd $(DESTDIR)$(SBINDIR)/estcoapd
	$(INSTALL) -D -m 0644 man/estcoapd.8 $(DESTDIR)$(MANDIR)/man8/estcoapd.8
	$(INSTALL) -D -m 0644 man/estcoapd.json.5 \
	    $(DESTDIR)$(MANDIR)/man5/estcoapd.json.5
	$(INSTALL) -D -m 0644 conf/estcoapd.json \
	    $(DESTDIR)$(SYSCONFDIR)/estcoapd/estcoapd.json.sample
	@mkdir -p $(BUILD)/systemd
	@set -e; for u in $(INSTALL_UNITS); do \
		sed -e 's|/usr/sbin/estcoapd|$(SBINDIR)/estcoapd|g' \
		    -e 's|/etc/estcoapd/|$(SYSCONFDIR)/estcoapd/|g' \
		    systemd/$$u >$(BUILD)/systemd/$$u; \
		echo "$(INSTALL) -D -m 0644 $(BUILD)/systemd/$$u" \
		    "$(DESTDIR)$(SYSTEMDUNITDIR)/$$u"; \
		$(INSTALL) -D -m 0644 $(BUILD)/systemd/$$u \
		    $(DESTDIR)$(SYSTEMDUNITDIR)/$$u; \
	done
	$(INSTALL) -D -m 0644 systemd/estcoapd.sysusers \
	    $(DESTDIR)$(SYSUSERSDIR)/estcoapd.conf
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/estcoapd/estcoapd.json ]; then \
		echo "note: copy $(SYSCONFDIR)/estcoapd/estcoapd.json.sample" \
		    "to estcoapd.json and edit it"; \
	fi

# The config and the key material under $(SYSCONFDIR)/estcoapd are the
# operator's and stay; only the sample we installed goes.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/estcoapd
	rm -f $(DESTDIR)$(MANDIR)/man8/estcoapd.8
	rm -f $(DESTDIR)$(MANDIR)/man5/estcoapd.json.5
	rm -f $(DESTDIR)$(SYSCONFDIR)/estcoapd/estcoapd.json.sample
	rm -f $(addprefix $(DESTDIR)$(SYSTEMDUNITDIR)/,$(INSTALL_UNITS))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/estcoapd.conf
	@rmdir $(DESTDIR)$(SYSCONFDIR)/estcoapd 2>/dev/null || true

.PHONY: install uninstall
