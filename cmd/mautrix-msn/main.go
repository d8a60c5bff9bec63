package main
import (
 _ "maunium.net/go/mautrix/bridgev2/matrix/mxmain"
 _ "github.com/mattn/go-sqlite3"
 _ "gopkg.in/yaml.v3"
 _ "github.com/rs/zerolog"
 _ "github.com/prometheus/client_golang/prometheus"
)
func main(){}
