package bridge

import (
	"fmt"
	"os"

	"gopkg.in/yaml.v3"
)

// checkGeneratedKeySaved refuses to start when this run generated the
// credentials key ("credentials_key: generate") but the config file does
// not hold it: the config is read-only, could not be written, or the
// bridge runs with --no-update. Going on would make a new key at every
// start and leave every stored password unreadable.
func (c *Connector) checkGeneratedKeySaved() error {
	if c.generatedKey == "" || c.ConfigPath == "" || c.Config.CredentialsKey != c.generatedKey {
		return nil // not generated now, or set another way (environment)
	}
	saved, err := savedCredentialsKey(c.ConfigPath)
	if err == nil && saved == c.generatedKey {
		return nil
	}
	reason := fmt.Sprintf("%s still says %q", c.ConfigPath, saved)
	if err != nil {
		reason = err.Error()
	}
	return fmt.Errorf("network.credentials_key is %q, but the key the bridge generated could not be saved to the config (%s): "+
		"a new key would be made at every start and stored MSN passwords would become unreadable. "+
		"Make the config writable (and do not use --no-update), or set a key yourself, e.g. the output of `openssl rand -base64 32`",
		"generate", reason)
}

// savedCredentialsKey reads network.credentials_key from a config file.
func savedCredentialsKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	var cfg struct {
		Network struct {
			CredentialsKey string `yaml:"credentials_key"`
		} `yaml:"network"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return "", fmt.Errorf("parse %s: %w", path, err)
	}
	return cfg.Network.CredentialsKey, nil
}
