package ecsemu

import (
	"fmt"
	"log"
)

// listenInstances serves the metadata service of every further instance of
// the scenario (Scenario.Instances) on a listener of its own, each as that
// instance sees it. The real service knows the asking instance by where
// the request comes from; on loopback the port stands for the instance, so
// a fleet tool can point each emulated host at its own address. Outages
// take them down and bring them back with the main one.
func (s *Server) listenInstances(errLog *log.Logger) error {
	s.InstanceIMDSURLs = map[string]string{}
	for _, in := range s.e.sc.Instances {
		h, err := s.e.InstanceMetadataHandler(in.ID)
		if err != nil {
			return err
		}
		m := &imdsServer{handler: h, errLog: errLog, log: s.log}
		if err := m.bind("127.0.0.1:0", !s.e.Faults().IMDSOutage); err != nil {
			return fmt.Errorf("instance %s: %w", in.ID, err)
		}
		s.instanceIMDS = append(s.instanceIMDS, m)
		s.InstanceIMDSURLs[in.ID] = "http://" + m.addr
	}
	return nil
}
