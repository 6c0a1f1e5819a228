"""function-gitops-cluster: AKS and GKE clusters that register themselves in Argo CD."""
